// Encryption for Open Bucket: AES-256-GCM (NIST SP 800-38D) and HKDF-SHA256 (RFC 5869) through
// OpenSSL 3, and the key and nonce policy of the storage format (docs/formats.md):
//
//   wrap key  = HKDF-SHA256(ikm = master secret, salt = "",        info = "open-bucket/v1/wrap-key")
//   file key  = HKDF-SHA256(ikm = master secret, salt = file salt, info = "open-bucket/v1/file-key")
//   block i   : nonce = 00 00 00 00 || be64(i)     (i = data block index within the file)
//   metadata  : nonce = ff ff ff ff || 00 * 8
// The file salt is 32 fresh random bytes per stored file, so every file has its own key and a
// (key, nonce) pair is never used twice: block indices are unique within a file and the
// metadata nonce lies outside their range.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"
#include "core/protocol.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace ob::crypto {

using Key = std::array<std::uint8_t, protocol::kKeySize>;
using Nonce = std::array<std::uint8_t, protocol::kNonceSize>;

/// Fills `out` from OpenSSL's CSPRNG. Errors (crypto): the generator failed.
Result<void> random_bytes(MutableByteView out);

/// HKDF-SHA256 (RFC 5869) producing a 32-byte key. Errors (crypto): the library failed.
Result<Key> hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info);

/// The key that wraps file keys: HKDF(master, "", "open-bucket/v1/wrap-key").
Result<Key> derive_wrap_key(ByteView master_secret);
/// A file's key: HKDF(master, salt, "open-bucket/v1/file-key").
Result<Key> derive_file_key(ByteView master_secret, ByteView salt);

/// The nonce of data block `index` of a file: 4 zero bytes, then `index` big-endian.
Nonce block_nonce(std::uint64_t index) noexcept;
/// The nonce of a file's encrypted metadata: ff ff ff ff then 8 zero bytes.
Nonce metadata_nonce() noexcept;

/// AES-256-GCM with one key, reusing one OpenSSL context across calls (per-block calls on the
/// data path pay no set-up). Not thread-safe: make one per thread. Movable, not copyable.
class Aead {
 public:
  /// Errors (crypto): the library could not allocate or initialise the cipher.
  static Result<Aead> make(const Key& key);
  ~Aead();
  Aead(Aead&& other) noexcept;
  Aead& operator=(Aead&& other) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  /// Encrypts `plaintext` into `out` (same size; may be the same memory) and writes the 16-byte
  /// tag into `tag`. Errors (invalid_argument): size mismatch; (crypto): the library failed.
  Result<void> seal(const Nonce& nonce, ByteView aad, ByteView plaintext, MutableByteView out,
                    MutableByteView tag);

  /// Decrypts `ciphertext` into `out` (same size; may be the same memory) and checks `tag`.
  /// Errors (corrupt): the tag does not match — `out` then holds unauthenticated bytes that the
  /// caller must not use; (invalid_argument): size mismatch; (crypto): the library failed.
  Result<void> open(const Nonce& nonce, ByteView aad, ByteView ciphertext, ByteView tag,
                    MutableByteView out);

 private:
  explicit Aead(EVP_CIPHER_CTX* ctx) : ctx_(ctx) {}
  EVP_CIPHER_CTX* ctx_;
};

}  // namespace ob::crypto
