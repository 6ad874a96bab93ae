// EIP-681 payment request URIs (https://eips.ethereum.org/EIPS/eip-681): what a phone wallet
// reads from a QR code to pay Ether into an account (seed 002's top-up):
//
//   ethereum:<EIP-55 address>@<chain ID>?value=<wei, decimal>
#pragma once

#include <cstdint>
#include <string>

#include "wallet/keys.h"
#include "wallet/uint256.h"

namespace ob::wallet {

/// The URI asking for `wei` to be paid to `to` on chain `chain_id`.
std::string payment_request_uri(const Address& to, std::uint64_t chain_id, const U256& wei);

}  // namespace ob::wallet
