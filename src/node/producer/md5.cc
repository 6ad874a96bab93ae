#include "node/producer/md5.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>

#include "store/file_io.h"

namespace ob::producer {

struct Md5::Ctx {
  EVP_MD_CTX* ctx = nullptr;
  ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Md5::Md5(std::unique_ptr<Ctx> ctx) : ctx_(std::move(ctx)) {}
Md5::Md5(Md5&&) noexcept = default;
Md5& Md5::operator=(Md5&&) noexcept = default;
Md5::~Md5() = default;

Result<Md5> Md5::create() {
  auto ctx = std::make_unique<Ctx>();
  ctx->ctx = EVP_MD_CTX_new();
  if (ctx->ctx == nullptr || EVP_DigestInit_ex(ctx->ctx, EVP_md5(), nullptr) != 1) {
    return fail(Errc::crypto, "MD5 is not available from OpenSSL");
  }
  return Md5(std::move(ctx));
}

Result<void> Md5::update(ByteView data) {
  if (!ctx_ || EVP_DigestUpdate(ctx_->ctx, data.data(), data.size()) != 1) {
    return fail(Errc::crypto, "MD5 update failed");
  }
  return {};
}

Result<std::string> Md5::finish_hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!ctx_ || EVP_DigestFinal_ex(ctx_->ctx, digest, &length) != 1) return fail(Errc::crypto, "MD5 final failed");
  ctx_.reset();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

Result<FileDigest> md5_file(const std::filesystem::path& path) {
  OB_TRY(fileio::Fd fd, fileio::open_fd(path, O_RDONLY));
  return md5_fd(fd.get(), path);
}

Result<FileDigest> md5_fd(int fd, const std::filesystem::path& path_for_errors) {
  OB_TRY(Md5 md5, Md5::create());
  Bytes buffer(1 << 20);
  FileDigest digest;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(digest.size));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(fileio::errno_error("cannot read", path_for_errors, errno));
    }
    if (n == 0) break;
    OB_TRY_VOID(md5.update(ByteView(buffer.data(), static_cast<std::size_t>(n))));
    digest.size += static_cast<std::uint64_t>(n);
  }
  OB_TRY(digest.md5, md5.finish_hex());
  return digest;
}

}  // namespace ob::producer
