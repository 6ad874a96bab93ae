// Ether amounts as people write them and as the chain counts them (wei; 1 ETH = 10^18 wei,
// 1 gwei = 10^9 wei).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "wallet/uint256.h"

namespace ob::wallet {

/// Parses "1.5", "1.5 ETH", "1.5 ether", "1500000000 gwei" or "21000 wei" (units
/// case-insensitive, spaces optional; no unit means ETH) into wei.
/// Errors (invalid_argument), each saying why: empty, negative, not a number, more decimals
/// than the unit has (18 for ETH, 9 for gwei, none for wei), an unknown unit, or more than
/// 2^256 - 1 wei.
Result<U256> parse_amount(std::string_view text);

/// `wei` in ETH with no trailing zeros: "1.5", "0", "0.000000000000000001".
std::string format_eth(const U256& wei);

}  // namespace ob::wallet
