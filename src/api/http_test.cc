#include "api/http.h"

#include <gtest/gtest.h>

namespace ob::api {
namespace {

TEST(ContentDispositionTest, PlainNamesRoundTrip) {
  for (const std::string name : {"photo.jpg", "a b;c=d.txt", "quote\"and\\slash", ""}) {
    const std::string header = content_disposition(name);
    auto parsed = parse_content_disposition(header);
    ASSERT_TRUE(parsed) << header << ": " << parsed.error().message;
    ASSERT_TRUE(parsed->has_value()) << header;
    EXPECT_EQ(**parsed, name) << header;
  }
  EXPECT_EQ(content_disposition("x.bin"), "attachment; filename=\"x.bin\"");
}

TEST(ContentDispositionTest, NonAsciiNamesUseFilenameStar) {
  const std::string name = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac.txt";  // "été €.txt" in UTF-8
  const std::string header = content_disposition(name);
  EXPECT_NE(header.find("filename*=UTF-8''%C3%A9t%C3%A9%20%E2%82%AC.txt"), std::string::npos) << header;
  EXPECT_NE(header.find("filename=\"__t__ ___.txt\""), std::string::npos) << header;
  auto parsed = parse_content_disposition(header);
  ASSERT_TRUE(parsed && parsed->has_value());
  EXPECT_EQ(**parsed, name);
}

TEST(ContentDispositionTest, AcceptsCommonSpellings) {
  auto token = parse_content_disposition("attachment; filename=report.pdf");
  ASSERT_TRUE(token && token->has_value());
  EXPECT_EQ(**token, "report.pdf");
  auto spaced = parse_content_disposition("inline ;  FILENAME = \"x y\" ; size=3");
  ASSERT_TRUE(spaced && spaced->has_value());
  EXPECT_EQ(**spaced, "x y");
  auto none = parse_content_disposition("attachment");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

TEST(ContentDispositionTest, RefusesMalformedValues) {
  for (const char* bad : {"attachment; filename=\"open", "attachment; filename*=latin1''x",
                          "attachment; filename*=UTF-8''%zz", "attachment; filename=\"a\"b",
                          "attachment; filename=\"tab\there\"", "attachment; filename*=UTF-8''a%0Ab"}) {
    auto parsed = parse_content_disposition(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, Errc::invalid_argument);
  }
}

TEST(HttpStatusTest, MapsErrorCodesBothWays) {
  EXPECT_EQ(http_status(Errc::invalid_argument), 400);
  EXPECT_EQ(http_status(Errc::out_of_range), 400);
  EXPECT_EQ(http_status(Errc::not_found), 404);
  EXPECT_EQ(http_status(Errc::quota_exceeded), 507);
  EXPECT_EQ(http_status(Errc::unrecoverable), 500);
  EXPECT_EQ(errc_for_status(404), Errc::not_found);
  EXPECT_EQ(errc_for_status(401), Errc::invalid_argument);
  EXPECT_EQ(errc_for_status(500), Errc::io);
}

TEST(ErrorBodyTest, RoundTripsAndFallsBack) {
  EXPECT_EQ(error_body("no \"such\" file"), R"({"msg":"no \"such\" file"})");
  EXPECT_EQ(error_message(404, error_body("gone")), "gone");
  EXPECT_EQ(error_message(400, R"({"msg": "Invalid directory", "detail": "/proc/x is not writable"})"),
            "Invalid directory: /proc/x is not writable");
  EXPECT_EQ(error_message(400, R"({"msg": "Invalid limit", "detail": ""})"), "Invalid limit");
  EXPECT_EQ(error_message(502, "<html>bad gateway</html>"), "HTTP 502 Server Error");
  EXPECT_EQ(error_message(404, ""), "HTTP 404 Not Found");
}

}  // namespace
// RFC 9110 14.2: the three forms, clipped to the file; what to ignore; what cannot be served.
TEST(ByteRangeTest, ParsesTheThreeFormsAndClipsThemToTheFile) {
  const auto range = [](std::string_view header, std::uint64_t size) { return parse_byte_range(header, size); };
  auto r = range("bytes=0-99", 1000);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->offset, 0u);
  EXPECT_EQ((*r)->length, 100u);
  r = range("bytes=990-2000", 1000);  // past the end: cut
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->offset, 990u);
  EXPECT_EQ((*r)->length, 10u);
  r = range("bytes=500-", 1000);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->length, 500u);
  r = range("bytes=-1000", 1000 * 1000);  // the last 1000 bytes
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->offset, 999000u);
  EXPECT_EQ((*r)->length, 1000u);
  r = range("bytes=-5000", 1000);  // a suffix longer than the file: all of it
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->offset, 0u);
  EXPECT_EQ((*r)->length, 1000u);
  for (std::string_view ignored : {"items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=5-1", "bytes=-", "bytes=1-x"}) {
    auto i = range(ignored, 1000);
    ASSERT_TRUE(i) << ignored;
    EXPECT_FALSE(*i) << ignored;
  }
  for (std::string_view refused : {"bytes=1000-", "bytes=1000-1001", "bytes=-0"}) {
    auto e = range(refused, 1000);
    ASSERT_FALSE(e) << refused;
    EXPECT_EQ(e.error().code, Errc::out_of_range);
  }
  EXPECT_FALSE(range("bytes=0-", 0));  // an empty file has no byte to serve
}

}  // namespace ob::api
