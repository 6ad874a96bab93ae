#include "wallet/amount.h"

#include <gtest/gtest.h>

namespace ob::wallet {
namespace {

U256 wei(const char* decimal) { return *U256::from_decimal(decimal); }

TEST(Amount, ParsesEveryUnit) {
  EXPECT_EQ(parse_amount("1.5").value(), wei("1500000000000000000"));
  EXPECT_EQ(parse_amount("1.5 ETH").value(), wei("1500000000000000000"));
  EXPECT_EQ(parse_amount(" 1.5eth ").value(), wei("1500000000000000000"));
  EXPECT_EQ(parse_amount("2 ether").value(), wei("2000000000000000000"));
  EXPECT_EQ(parse_amount("1500000000 gwei").value(), wei("1500000000000000000"));
  EXPECT_EQ(parse_amount("0.5 GWEI").value(), wei("500000000"));
  EXPECT_EQ(parse_amount("21000 wei").value(), wei("21000"));
  EXPECT_EQ(parse_amount("0.000000000000000001").value(), wei("1"));
  EXPECT_EQ(parse_amount("0").value(), U256(0));
  // 10^59 ETH is still below 2^256 wei.
  EXPECT_TRUE(parse_amount("100000000000000000000000000000000000000000000000000000000000"));
}

TEST(Amount, RefusesWhatIsNotAnAmount) {
  const auto message = [](const char* text) {
    auto parsed = parse_amount(text);
    EXPECT_FALSE(parsed) << text;
    return parsed ? std::string() : parsed.error().message;
  };
  EXPECT_NE(message("-1").find("negative"), std::string::npos);
  EXPECT_NE(message("-0.5 ETH").find("negative"), std::string::npos);
  EXPECT_NE(message("0.0000000000000000001").find("more than 18 decimals"), std::string::npos);
  EXPECT_NE(message("0.0000000001 gwei").find("more than 9 decimals"), std::string::npos);
  EXPECT_NE(message("1.5 wei").find("no decimals"), std::string::npos);
  EXPECT_NE(message("1.5 btc").find("unit"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("abc").find("not a number"), std::string::npos);
  EXPECT_NE(message("1.").find("not a number"), std::string::npos);
  EXPECT_NE(message(".5").find("not a number"), std::string::npos);
  EXPECT_NE(message("1.2.3").find("not a number"), std::string::npos);
  EXPECT_NE(message("1e18 wei").find("unit"), std::string::npos);
  EXPECT_NE(message("200000000000000000000000000000000000000000000000000000000000").find("2^256"), std::string::npos);
}

TEST(Amount, FormatsEthWithoutTrailingZeros) {
  EXPECT_EQ(format_eth(wei("1500000000000000000")), "1.5");
  EXPECT_EQ(format_eth(U256(0)), "0");
  EXPECT_EQ(format_eth(U256(1)), "0.000000000000000001");
  EXPECT_EQ(format_eth(wei("10000000000000000000000")), "10000");
  EXPECT_EQ(format_eth(wei("9999999999999958000")), "9.999999999999958");
}

}  // namespace
}  // namespace ob::wallet
