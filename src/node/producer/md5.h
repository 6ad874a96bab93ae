// MD5 of a file's plaintext, as seed 000 identifies files ("hash": the file's MD5, hex) and as
// the producer matches local files with those the tracker knows. Not a security hash here: the
// data itself is protected by AES-GCM and SHA-256 (coding/); MD5 only names contents for people.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::producer {

/// Streaming MD5 (OpenSSL EVP). Movable, not copyable, not thread-safe.
class Md5 {
 public:
  /// A fresh digest. Errors (crypto): OpenSSL cannot provide MD5 (e.g. a FIPS-only provider).
  static Result<Md5> create();
  Md5(Md5&&) noexcept;
  Md5& operator=(Md5&&) noexcept;
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  ~Md5();

  /// Feeds bytes. Errors (crypto).
  Result<void> update(ByteView data);
  /// The digest as 32 lower-case hex characters; the object is spent afterwards. Errors (crypto).
  Result<std::string> finish_hex();

 private:
  struct Ctx;
  explicit Md5(std::unique_ptr<Ctx> ctx);
  std::unique_ptr<Ctx> ctx_;
};

/// What md5_file read.
struct FileDigest {
  std::string md5;         ///< 32 lower-case hex characters
  std::uint64_t size = 0;  ///< bytes read
};

/// A file's MD5 and size, read in 1 MiB pieces. Errors (not_found, io, crypto).
Result<FileDigest> md5_file(const std::filesystem::path& path);
/// The same of an open file, read from offset 0 whatever its position (left unchanged).
/// Errors (io, crypto).
Result<FileDigest> md5_fd(int fd, const std::filesystem::path& path_for_errors);

}  // namespace ob::producer
