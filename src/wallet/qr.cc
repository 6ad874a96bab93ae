#include "wallet/qr.h"

#include <png.h>
#include <qrencode.h>

#include <cerrno>
#include <memory>

namespace ob::wallet {

Result<QrCode> QrCode::encode(std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_argument, "nothing to put in a QR code");
  const std::string copy(text);  // NUL-terminated for libqrencode
  QRcode* code = QRcode_encodeString8bit(copy.c_str(), 0, QR_ECLEVEL_M);
  if (code == nullptr) {
    if (errno == ERANGE) return fail(Errc::invalid_argument, "the text is too long for a QR code (", text.size(), " bytes)");
    return fail(Errc::invalid_argument, "libqrencode cannot encode this text");
  }
  const std::unique_ptr<QRcode, decltype(&QRcode_free)> owned(code, &QRcode_free);
  std::vector<bool> modules(static_cast<std::size_t>(code->width) * static_cast<std::size_t>(code->width));
  for (std::size_t i = 0; i < modules.size(); ++i) modules[i] = (code->data[i] & 1) != 0;  // bit 0: dark
  return QrCode(code->width, std::move(modules));
}

std::string QrCode::to_terminal(int margin) const {
  const int size = width_ + 2 * margin;
  const auto light = [&](int x, int y) {
    x -= margin;
    y -= margin;
    return x < 0 || y < 0 || x >= width_ || y >= width_ || !dark(x, y);
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      const bool top = light(x, y);
      const bool bottom = y + 1 < size ? light(x, y + 1) : false;
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += '\n';
  }
  return out;
}

Result<Bytes> QrCode::to_png(int scale, int margin) const {
  if (scale < 1 || scale > 64 || margin < 0 || margin > 64) {
    return fail(Errc::invalid_argument, "QR image scale must be 1..64 and margin 0..64");
  }
  const int side = (width_ + 2 * margin) * scale;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(side) * static_cast<std::size_t>(side), 0xff);
  for (int y = 0; y < width_; ++y) {
    for (int x = 0; x < width_; ++x) {
      if (!dark(x, y)) continue;
      for (int dy = 0; dy < scale; ++dy) {
        const std::size_t row = static_cast<std::size_t>((margin + y) * scale + dy) * static_cast<std::size_t>(side);
        for (int dx = 0; dx < scale; ++dx) pixels[row + static_cast<std::size_t>((margin + x) * scale + dx)] = 0;
      }
    }
  }
  // libpng's simplified API: no setjmp/longjmp through our frames.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(side);
  image.height = static_cast<png_uint_32>(side);
  image.format = PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr) == 0) {
    const std::string why = image.message;
    png_image_free(&image);
    return fail(Errc::io, "libpng: ", why);
  }
  Bytes png(size);
  if (png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr) == 0) {
    const std::string why = image.message;
    png_image_free(&image);
    return fail(Errc::io, "libpng: ", why);
  }
  png.resize(size);
  return png;
}

}  // namespace ob::wallet
