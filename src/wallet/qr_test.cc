#include "wallet/qr.h"

#include <gtest/gtest.h>
#include <png.h>

#include "wallet/amount.h"
#include "wallet/eip681.h"

namespace ob::wallet {
namespace {

TEST(Eip681, PaymentRequestUri) {
  const auto to = *Address::parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_EQ(payment_request_uri(to, 31337, *parse_amount("1.5")),
            "ethereum:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266@31337?value=1500000000000000000");
}

const char* kUri = "ethereum:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266@31337?value=1500000000000000000";

TEST(QrCode, TerminalDrawingHoldsEveryModule) {
  auto qr = QrCode::encode(kUri);
  ASSERT_TRUE(qr);
  EXPECT_GE(qr->width(), 21);
  EXPECT_EQ((qr->width() - 17) % 4, 0);  // a QR version's size
  const int margin = 2;
  const std::string text = qr->to_terminal(margin);
  // Read the half blocks back: light modules are drawn.
  std::vector<std::string> rows;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = text.find('\n', start);
    rows.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  const int side = qr->width() + 2 * margin;
  ASSERT_EQ(static_cast<int>(rows.size()), (side + 1) / 2);
  for (int r = 0; r < static_cast<int>(rows.size()); ++r) {
    std::size_t pos = 0;
    for (int x = 0; x < side; ++x) {
      bool top = false;
      bool bottom = false;
      if (rows[static_cast<std::size_t>(r)].compare(pos, 3, "\u2588") == 0) {
        top = bottom = true;
        pos += 3;
      } else if (rows[static_cast<std::size_t>(r)].compare(pos, 3, "\u2580") == 0) {
        top = true;
        pos += 3;
      } else if (rows[static_cast<std::size_t>(r)].compare(pos, 3, "\u2584") == 0) {
        bottom = true;
        pos += 3;
      } else {
        ASSERT_EQ(rows[static_cast<std::size_t>(r)][pos], ' ');
        pos += 1;
      }
      for (const auto& [y, light] : {std::pair{2 * r, top}, std::pair{2 * r + 1, bottom}}) {
        if (y >= side) continue;
        const int mx = x - margin;
        const int my = y - margin;
        const bool inside = mx >= 0 && my >= 0 && mx < qr->width() && my < qr->width();
        EXPECT_EQ(light, !inside || !qr->dark(mx, my)) << "module " << mx << "," << my;
      }
    }
  }
}

TEST(QrCode, PngPixelsAreTheModules) {
  auto qr = QrCode::encode(kUri);
  const int scale = 3;
  const int margin = 4;
  auto png = qr->to_png(scale, margin);
  ASSERT_TRUE(png);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  ASSERT_NE(png_image_begin_read_from_memory(&image, png->data(), png->size()), 0);
  image.format = PNG_FORMAT_GRAY;
  const int side = (qr->width() + 2 * margin) * scale;
  ASSERT_EQ(static_cast<int>(image.width), side);
  std::vector<std::uint8_t> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_NE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr), 0);
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      const int mx = x / scale - margin;
      const int my = y / scale - margin;
      const bool dark = mx >= 0 && my >= 0 && mx < qr->width() && my < qr->width() && qr->dark(mx, my);
      ASSERT_EQ(pixels[static_cast<std::size_t>(y * side + x)], dark ? 0 : 255) << x << "," << y;
    }
  }
}

TEST(QrCode, RefusesWhatDoesNotFit) {
  EXPECT_FALSE(QrCode::encode(""));
  EXPECT_FALSE(QrCode::encode(std::string(5000, 'a')));
  auto qr = QrCode::encode("x");
  EXPECT_FALSE(qr->to_png(0, 4));
  EXPECT_FALSE(qr->to_png(8, 65));
}

}  // namespace
}  // namespace ob::wallet
