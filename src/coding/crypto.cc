#include "coding/crypto.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <climits>
#include <utility>

namespace ob::crypto {
namespace {

std::string openssl_error(std::string_view what) {
  const unsigned long code = ERR_get_error();
  std::string message(what);
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    message += ": ";
    message += buf;
  }
  ERR_clear_error();
  return message;
}

// EVP takes int lengths; blocks are at most 4 MiB, but check rather than truncate.
bool fits_int(std::size_t n) { return n <= static_cast<std::size_t>(INT_MAX); }

}  // namespace

Result<void> random_bytes(MutableByteView out) {
  if (!fits_int(out.size()) || RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    return fail(Errc::crypto, openssl_error("random number generator failed"));
  }
  return {};
}

Result<Key> hkdf_sha256(ByteView ikm, ByteView salt, std::string_view info) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return fail(Errc::crypto, openssl_error("HKDF unavailable"));
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return fail(Errc::crypto, openssl_error("HKDF context"));

  // OSSL_PARAM wants non-const pointers even for inputs it only reads.
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  int i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()), ikm.size());
  // An empty salt is left out: RFC 5869 then uses zeros, and OpenSSL rejects a zero-length one.
  if (!salt.empty()) {
    params[i++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size());
  }
  params[i++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  params[i] = OSSL_PARAM_construct_end();

  Key key;
  const int ok = EVP_KDF_derive(ctx, key.data(), key.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) return fail(Errc::crypto, openssl_error("HKDF derivation failed"));
  return key;
}

Result<Key> derive_wrap_key(ByteView master_secret) {
  return hkdf_sha256(master_secret, {}, "open-bucket/v1/wrap-key");
}

Result<Key> derive_file_key(ByteView master_secret, ByteView salt) {
  return hkdf_sha256(master_secret, salt, "open-bucket/v1/file-key");
}

Nonce block_nonce(std::uint64_t index) noexcept {
  Nonce nonce{};
  for (int b = 0; b < 8; ++b) {
    nonce[static_cast<std::size_t>(11 - b)] = static_cast<std::uint8_t>(index >> (8 * b));
  }
  return nonce;
}

Nonce metadata_nonce() noexcept {
  Nonce nonce{};
  nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0xff;
  return nonce;
}

Result<Aead> Aead::make(const Key& key) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return fail(Errc::crypto, openssl_error("cipher context"));
  Aead aead(ctx);
  // Set the cipher and key once; each seal/open then only sets the nonce.
  if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), key.data(), nullptr, 1, nullptr) != 1) {
    return fail(Errc::crypto, openssl_error("AES-256-GCM init"));
  }
  return aead;
}

Aead::~Aead() { EVP_CIPHER_CTX_free(ctx_); }

Aead::Aead(Aead&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Aead& Aead::operator=(Aead&& other) noexcept {
  std::swap(ctx_, other.ctx_);
  return *this;
}

Result<void> Aead::seal(const Nonce& nonce, ByteView aad, ByteView plaintext, MutableByteView out,
                        MutableByteView tag) {
  if (out.size() != plaintext.size() || tag.size() != protocol::kTagSize ||
      !fits_int(plaintext.size()) || !fits_int(aad.size())) {
    return fail(Errc::invalid_argument, "AES-GCM seal: buffer sizes do not match");
  }
  int len = 0;
  if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce.data(), 1, nullptr) != 1 ||
      (!aad.empty() &&
       EVP_CipherUpdate(ctx_, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_CipherUpdate(ctx_, out.data(), &len, plaintext.data(),
                       static_cast<int>(plaintext.size())) != 1 ||
      EVP_CipherFinal_ex(ctx_, out.data() + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag.size()), tag.data()) !=
          1) {
    return fail(Errc::crypto, openssl_error("AES-256-GCM encryption failed"));
  }
  return {};
}

Result<void> Aead::open(const Nonce& nonce, ByteView aad, ByteView ciphertext, ByteView tag,
                        MutableByteView out) {
  if (out.size() != ciphertext.size() || tag.size() != protocol::kTagSize ||
      !fits_int(ciphertext.size()) || !fits_int(aad.size())) {
    return fail(Errc::invalid_argument, "AES-GCM open: buffer sizes do not match");
  }
  int len = 0;
  if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce.data(), 0, nullptr) != 1 ||
      (!aad.empty() &&
       EVP_CipherUpdate(ctx_, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_CipherUpdate(ctx_, out.data(), &len, ciphertext.data(),
                       static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                          const_cast<std::uint8_t*>(tag.data())) != 1) {
    return fail(Errc::crypto, openssl_error("AES-256-GCM decryption failed"));
  }
  // Final checks the tag. On failure `out` holds unauthenticated plaintext; the contract says
  // the caller must not use it, and every caller in this project discards the buffer.
  if (EVP_CipherFinal_ex(ctx_, out.data() + len, &len) != 1) {
    ERR_clear_error();
    return fail(Errc::corrupt, "authentication tag mismatch");
  }
  return {};
}

}  // namespace ob::crypto
