// The wallet's endpoints on the daemon (docs/api.md "Wallet"), over the home's wallet
// (wallet/wallet_store.h) and config.toml's [chain]:
//
//   GET  /v1/wallet/accounts                     [{"name", "address", "default", "origin", "keystore",
//                                                  "balance" (wei, decimal string; null when the chain
//                                                  does not answer), "balanceEth"}]
//   POST /v1/wallet/accounts   {"passphrase", "name"?, and one of "words" (12|24: create),
//                               "mnemonic" (+ "index"?), "privateKey", "keystore" (object or text)}
//                              -> {"msg": "Account NAME created" | "... imported", "name", "address",
//                                  "default", "keystore", "mnemonic" (create only, shown once)}
//   POST /v1/wallet/default    {"account": NAME|ADDRESS}   -> {"msg": "Default account is NAME (0x...)", ...}
//   GET  /v1/wallet/accounts/{address}/balance               -> {"address", "wei", "eth", "chainId"}
//   POST /v1/wallet/send       {"to", "amount", "passphrase", "from"?}
//                              -> {"msg": "Sent 1.5 ETH to 0x...", "hash", ... as `wallet send --json`}
//   POST /v1/wallet/request    {"amount", "account"?}      -> {"uri", "address", "chainId", "value",
//                                                              "valueEth", "png" (base64)}
//
// Errors are {"msg": one line} with 400 (bad input: passphrase, mnemonic, address, amount,
// insufficient funds, a node on another chain), 404 (no such account), 409 (a name or address
// the wallet has), 500 (the node cannot be reached, the disk). A passphrase reaches the daemon
// only in a request body, over loopback, and is never logged.
#pragma once

#include <filesystem>
#include <vector>

#include "api/rest_server.h"
#include "chain/chain_client.h"
#include "wallet/wallet_store.h"

namespace ob::api {

/// The wallet's JSON routes for the home at `home_dir`, talking to the node `chain` names.
std::vector<JsonRoute> wallet_routes(const std::filesystem::path& home_dir, chain::ChainSettings chain);

/// An account as the API and `wallet ... --json` show it.
nlohmann::json account_json(const wallet::Account& account);
/// A sent transaction as the API and `wallet send --json` show it: hash, from, to, value
/// (wei) and valueEth, chainId, nonce, gasLimit, maxFeePerGas, maxPriorityFeePerGas,
/// blockNumber, gasUsed, effectiveGasPrice, fee and feeEth, raw (the signed bytes, hex).
nlohmann::json sent_json(const chain::SentTransaction& sent);

}  // namespace ob::api
