#include "core/sha256.h"

// The one-shot hashes below use OpenSSL's low-level SHA256_* functions, deprecated in OpenSSL 3
// in favour of EVP but still part of its API. A Merkle tree makes 127 small hashes per 64 KiB
// block, and EVP's per-call dispatch made each 1 KiB leaf about 35% slower (900 vs 660 ns,
// bench/README.md); the low-level calls use the same SHA-NI code without it.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <utility>

namespace ob {
namespace {

// Fetched explicitly, once: EVP_sha256() is an implicit fetch that OpenSSL 3 repeats on every
// init, which halved the speed of Merkle trees (127 small hashes per 64 KiB block).
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();  // no default provider: OpenSSL is broken, not our input
  return md;
}

// OpenSSL only fails these calls on allocation failure or a broken provider; there is no
// sensible way to continue hashing without them, and no input can cause it.
void check(int ok) {
  if (ok != 1) std::abort();
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  check(EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr));
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

void Sha256::update(ByteView data) { check(EVP_DigestUpdate(ctx_, data.data(), data.size())); }

Sha256Digest Sha256::finish() {
  Sha256Digest out;
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(ctx_, out.data(), &len));
  check(EVP_DigestInit_ex2(ctx_, nullptr, nullptr));  // same digest: skips the provider set-up
  return out;
}

Sha256Digest Sha256::hash(ByteView data) {
  Sha256Digest out;
  ::SHA256(data.data(), data.size(), out.data());
  return out;
}

Sha256Digest Sha256::hash_prefixed(std::uint8_t prefix, ByteView a, ByteView b) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, &prefix, 1);
  SHA256_Update(&ctx, a.data(), a.size());
  if (!b.empty()) SHA256_Update(&ctx, b.data(), b.size());
  Sha256Digest out;
  SHA256_Final(out.data(), &ctx);
  return out;
}

}  // namespace ob
