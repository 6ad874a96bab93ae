// QR codes (libqrencode) of short texts such as payment request URIs, drawn for a terminal with
// Unicode half blocks or written as a PNG image (libpng).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::wallet {

/// A QR code's modules: width x width, true = dark.
class QrCode {
 public:
  /// Encodes `text` (8-bit mode, error correction level M, the smallest version that fits).
  /// Errors (invalid_argument): empty, or too long for a QR code (about 2.3 KB at level M).
  static Result<QrCode> encode(std::string_view text);

  int width() const noexcept { return width_; }
  bool dark(int x, int y) const { return modules_[static_cast<std::size_t>(y * width_ + x)]; }

  /// Lines for a terminal: each character is two modules stacked (upper and lower half
  /// blocks), light modules drawn and dark ones blank, as `qrencode -t UTF8` does for a dark
  /// background; a quiet zone of `margin` modules around. Newline-terminated.
  std::string to_terminal(int margin = 2) const;

  /// An 8-bit grayscale PNG: `scale` pixels per module, `margin` light modules around (4 is
  /// the standard quiet zone). Errors (invalid_argument): scale or margin out of 1..64 / 0..64;
  /// (io): libpng failed.
  Result<Bytes> to_png(int scale = 8, int margin = 4) const;

 private:
  QrCode(int width, std::vector<bool> modules) : width_(width), modules_(std::move(modules)) {}
  int width_ = 0;
  std::vector<bool> modules_;
};

}  // namespace ob::wallet
