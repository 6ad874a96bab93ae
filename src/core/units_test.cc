#include "core/units.h"

#include <gtest/gtest.h>

namespace ob {
namespace {

TEST(Units, ParsesSeedFormat) {
  EXPECT_EQ(parse_size("10 GB").value(), 10'000'000'000ull);
  EXPECT_EQ(parse_size("2GB").value(), 2'000'000'000ull);
  EXPECT_EQ(parse_size("1.5 gb").value(), 1'500'000'000ull);
  EXPECT_EQ(parse_size("512 MiB").value(), 512ull << 20);
  EXPECT_EQ(parse_size("0 B").value(), 0u);
  EXPECT_EQ(parse_size("7 KB").value(), 7000u);
}

TEST(Units, RefusesOtherFormats) {
  for (const char* text : {"", "GB", "10", "10 G", "-1 GB", "1e3 GB", "10 GB extra", " 10 GB", "1..2 GB",
                           "99999999999 TB"}) {
    auto size = parse_size(text);
    ASSERT_FALSE(size) << text;
    EXPECT_EQ(size.error().code, Errc::invalid_argument) << text;
  }
}

TEST(Units, FormatsForPeople) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(999), "999 B");
  EXPECT_EQ(format_size(5000), "5 KB");
  EXPECT_EQ(format_size(1'500'000'000), "1.5 GB");
  EXPECT_EQ(format_size(2'000'000'000), "2 GB");
}

}  // namespace
}  // namespace ob
