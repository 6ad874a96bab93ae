// Helpers shared by the unit tests (src/**/*_test.cc). Not part of the library.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "store/file_io.h"

namespace ob::testing {

/// `size` pseudo-random bytes, the same for the same seed (reproducible failures).
inline Bytes seeded_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

/// Bytes from lower- or upper-case hex; test vectors only (no validation).
inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(std::string_view label = "ob-test")
      : path_(std::filesystem::temp_directory_path() / (std::string(label) + "-" + fileio::random_suffix())) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ob::testing
