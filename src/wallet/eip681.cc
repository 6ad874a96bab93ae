#include "wallet/eip681.h"

namespace ob::wallet {

std::string payment_request_uri(const Address& to, std::uint64_t chain_id, const U256& wei) {
  // The value in plain decimal wei: EIP-681 also allows "1.5e18", which some wallets misread.
  return "ethereum:" + to.to_checksum() + "@" + std::to_string(chain_id) + "?value=" + wei.to_decimal();
}

}  // namespace ob::wallet
