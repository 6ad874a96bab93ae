#include "wallet/amount.h"

#include <algorithm>
#include <cctype>

namespace ob::wallet {
namespace {

constexpr std::size_t kEthDecimals = 18;
constexpr std::size_t kGweiDecimals = 9;
constexpr std::string_view kNotANumber = "not a number (write it as 1.5, 1.5 ETH, 1500000000 gwei or 21000 wei)";

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

}  // namespace

Result<U256> parse_amount(std::string_view text) {
  const std::string_view all = trim(text);
  const auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, "invalid amount '", all.substr(0, 80), "': ", why);
  };
  if (all.empty()) return bad("empty");
  if (all.front() == '-') return bad("an amount cannot be negative");
  if (all.front() == '+') return bad("write the number without a sign");
  const std::size_t number_end = all.find_first_not_of("0123456789.");
  const std::string_view number = all.substr(0, number_end);
  if (number.empty()) return bad(kNotANumber);
  const std::string unit = lower(trim(number_end == std::string_view::npos ? "" : all.substr(number_end)));
  std::size_t decimals = kEthDecimals;
  if (unit == "wei") {
    decimals = 0;
  } else if (unit == "gwei") {
    decimals = kGweiDecimals;
  } else if (!unit.empty() && unit != "eth" && unit != "ether") {
    return bad("the unit must be ETH, gwei or wei");
  }
  const std::size_t point = number.find('.');
  const std::string_view whole = number.substr(0, point);
  const std::string_view fraction = point == std::string_view::npos ? "" : number.substr(point + 1);
  if (whole.empty() || (point != std::string_view::npos && fraction.empty()) ||
      fraction.find('.') != std::string_view::npos) {
    return bad(kNotANumber);
  }
  if (fraction.size() > decimals) {
    if (decimals == 0) return bad("wei is the smallest unit: no decimals");
    return bad("more than " + std::to_string(decimals) + " decimals");
  }
  // whole * 10^decimals + fraction padded to `decimals` digits: one decimal string.
  std::string digits(whole);
  digits.append(fraction);
  digits.append(decimals - fraction.size(), '0');
  auto wei = U256::from_decimal(digits);
  if (!wei) return bad("more than 2^256 - 1 wei");
  return *wei;
}

std::string format_eth(const U256& wei) {
  std::string digits = wei.to_decimal();
  if (digits.size() <= kEthDecimals) digits.insert(0, kEthDecimals + 1 - digits.size(), '0');
  std::string whole = digits.substr(0, digits.size() - kEthDecimals);
  std::string fraction = digits.substr(digits.size() - kEthDecimals);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return fraction.empty() ? whole : whole + "." + fraction;
}

}  // namespace ob::wallet
