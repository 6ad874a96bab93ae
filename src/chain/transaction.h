// EIP-1559 transactions (type 2; https://eips.ethereum.org/EIPS/eip-1559), signed with a
// wallet key:
//
//   payload  = rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value, data,
//                   accessList])
//   signed   = 0x02 || rlp([... the nine fields ..., yParity, r, s])
//   sig over   Keccak-256(0x02 || payload);  hash = Keccak-256(signed)
//
// `to` empty creates a contract; the access list is always empty here (EIP-2930 lists are for
// contract calls that want cheaper storage reads, which nothing of ours needs yet).
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/error.h"
#include "wallet/keccak.h"
#include "wallet/keys.h"
#include "wallet/uint256.h"

namespace ob::chain {

/// A signed transaction as sent to a node.
struct SignedTransaction {
  Bytes raw;                   ///< 0x02 || rlp([...]), for eth_sendRawTransaction
  wallet::Hash32 hash{};       ///< Keccak-256 of raw: the transaction hash
  wallet::Signature signature;
};

/// The fields of an EIP-1559 transaction.
struct Eip1559Transaction {
  std::uint64_t chain_id = 0;
  std::uint64_t nonce = 0;
  wallet::U256 max_priority_fee_per_gas;  ///< wei per gas to the block's producer
  wallet::U256 max_fee_per_gas;           ///< wei per gas at most, base fee included
  std::uint64_t gas_limit = 0;
  std::optional<wallet::Address> to;  ///< empty: contract creation
  wallet::U256 value;                 ///< wei
  Bytes data;

  /// Keccak-256(0x02 || rlp(fields)): what the sender signs.
  wallet::Hash32 signing_hash() const;
  /// Signs with `key` (its address becomes the sender). Errors (crypto).
  Result<SignedTransaction> sign(const wallet::PrivateKey& key) const;

  /// The largest amount the sender can be charged: value + gas_limit * max_fee_per_gas.
  /// nullopt when that overflows 256 bits.
  std::optional<wallet::U256> max_cost() const;
};

/// A raw signed EIP-1559 transaction read back: its fields, signature and sender.
struct DecodedTransaction {
  Eip1559Transaction tx;
  wallet::Signature signature;
  wallet::Address from;
  wallet::Hash32 hash{};
};

/// Parses `raw` (0x02 || rlp([... 12 fields])) and recovers the sender. Errors
/// (invalid_argument): not a type-2 transaction, malformed RLP or fields, a non-empty access
/// list, a signature that recovers no key.
Result<DecodedTransaction> decode_signed_transaction(ByteView raw);

}  // namespace ob::chain
