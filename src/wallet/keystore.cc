#include "wallet/keystore.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "coding/crypto.h"

namespace ob::wallet {
namespace {

using nlohmann::json;

constexpr std::size_t kDerivedKeySize = 32;
constexpr std::size_t kSaltSize = 32;
constexpr std::size_t kIvSize = 16;
constexpr std::uint64_t kMaxScryptMemory = 1ull << 30;  // what we agree to spend reading a file
constexpr std::uint64_t kMaxPbkdf2Rounds = 1ull << 24;

/// Wipes a buffer when it goes out of scope.
struct Wipe {
  MutableByteView bytes;
  ~Wipe() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

Result<void> scrypt(std::string_view passphrase, ByteView salt, const ScryptParams& params, MutableByteView out) {
  // OpenSSL needs 128 * r * (n + p + 2) bytes and more for its own buffers; the limit passed
  // must cover that (its default of 32 MiB refuses geth's n = 2^18).
  const std::uint64_t needed = 128ull * params.r * (params.n + params.p + 2) + (1ull << 20);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt.data(), salt.size(), params.n, params.r, params.p,
                     needed, out.data(), out.size()) != 1) {
    return fail(Errc::crypto, "scrypt failed (n=", params.n, ", r=", params.r, ", p=", params.p, ")");
  }
  return {};
}

Result<void> aes_128_ctr(ByteView key, ByteView iv, ByteView in, MutableByteView out) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return fail(Errc::crypto, "cannot allocate a cipher context");
  int len = 0;
  int final_len = 0;
  const bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nullptr, key.data(), iv.data()) == 1 &&
                  EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) == 1 &&
                  EVP_EncryptFinal_ex(ctx, out.data() + len, &final_len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return fail(Errc::crypto, "AES-128-CTR failed");
  return {};
}

/// A random RFC 4122 version 4 UUID.
Result<std::string> uuid_v4() {
  std::array<std::uint8_t, 16> b{};
  OB_TRY_VOID(crypto::random_bytes(b));
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  const std::string hex = to_hex(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

// Field readers: a keystore is untrusted input, so each type is checked before use.
Result<const json*> member(const json& object, const char* key, const char* what) {
  const auto it = object.find(key);
  if (it == object.end()) return fail(Errc::corrupt, "not a keystore v3 file: no ", what);
  return &*it;
}

Result<Bytes> hex_field(const json& object, const char* key, const char* what, std::size_t min, std::size_t max) {
  OB_TRY(const json* value, member(object, key, what));
  if (!value->is_string()) return fail(Errc::corrupt, "not a keystore v3 file: ", what, " is not a hex string");
  std::string_view text = value->get_ref<const std::string&>();
  if (text.starts_with("0x")) text.remove_prefix(2);
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() < min || bytes->size() > max) {
    return fail(Errc::corrupt, "not a keystore v3 file: ", what, " is not hex of the expected size");
  }
  return std::move(*bytes);
}

Result<std::uint64_t> number_field(const json& object, const char* key, const char* what) {
  OB_TRY(const json* value, member(object, key, what));
  if (!value->is_number_unsigned()) return fail(Errc::corrupt, "not a keystore v3 file: ", what, " is not a whole number");
  return value->get<std::uint64_t>();
}

Result<std::string> string_field(const json& object, const char* key, const char* what) {
  OB_TRY(const json* value, member(object, key, what));
  if (!value->is_string()) return fail(Errc::corrupt, "not a keystore v3 file: ", what, " is not a string");
  return value->get<std::string>();
}

Result<json> parse_json(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return fail(Errc::corrupt, "not a keystore v3 file: not a JSON object");
  return doc;
}

}  // namespace

ScryptParams default_scrypt_params() {
  ScryptParams params;
  if (const char* text = std::getenv("OPEN_BUCKET_TEST_SCRYPT_N"); text != nullptr) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text, &end, 10);
    if (end != text && *end == '\0' && n >= 1024 && n <= params.n && (n & (n - 1)) == 0) params.n = n;
  }
  return params;
}

Result<std::string> encrypt_keystore(const PrivateKey& key, std::string_view passphrase, const ScryptParams& params) {
  if (passphrase.empty()) return fail(Errc::invalid_argument, "the passphrase must not be empty");
  std::array<std::uint8_t, kSaltSize> salt{};
  std::array<std::uint8_t, kIvSize> iv{};
  OB_TRY_VOID(crypto::random_bytes(salt));
  OB_TRY_VOID(crypto::random_bytes(iv));
  std::array<std::uint8_t, kDerivedKeySize> derived{};
  const Wipe wipe{derived};
  OB_TRY_VOID(scrypt(passphrase, salt, params, derived));
  std::array<std::uint8_t, 32> ciphertext{};
  OB_TRY_VOID(aes_128_ctr(ByteView(derived.data(), 16), iv, key.bytes(), ciphertext));
  const Hash32 mac = keccak256(ByteView(derived.data() + 16, 16), ciphertext);
  OB_TRY(std::string id, uuid_v4());
  const json doc = {
      {"address", key.address().to_lower_hex()},
      {"crypto",
       {{"cipher", "aes-128-ctr"},
        {"ciphertext", to_hex(ciphertext)},
        {"cipherparams", {{"iv", to_hex(iv)}}},
        {"kdf", "scrypt"},
        {"kdfparams", {{"dklen", kDerivedKeySize}, {"n", params.n}, {"p", params.p}, {"r", params.r}, {"salt", to_hex(salt)}}},
        {"mac", to_hex(mac)}}},
      {"id", id},
      {"version", 3}};
  return doc.dump() + "\n";
}

Result<PrivateKey> decrypt_keystore(std::string_view text, std::string_view passphrase) {
  OB_TRY(json doc, parse_json(text));
  OB_TRY(std::uint64_t version, number_field(doc, "version", "version"));
  if (version != 3) return fail(Errc::corrupt, "keystore version ", version, " is not supported (only 3)");
  const json* crypto = nullptr;
  if (auto it = doc.find("crypto"); it != doc.end()) crypto = &*it;
  if (auto it = doc.find("Crypto"); crypto == nullptr && it != doc.end()) crypto = &*it;
  if (crypto == nullptr || !crypto->is_object()) return fail(Errc::corrupt, "not a keystore v3 file: no crypto object");

  OB_TRY(std::string cipher, string_field(*crypto, "cipher", "cipher"));
  if (cipher != "aes-128-ctr") return fail(Errc::corrupt, "keystore cipher '", cipher.substr(0, 40), "' is not supported (only aes-128-ctr)");
  OB_TRY(const json* cipherparams, member(*crypto, "cipherparams", "cipherparams"));
  if (!cipherparams->is_object()) return fail(Errc::corrupt, "not a keystore v3 file: cipherparams is not an object");
  OB_TRY(Bytes iv, hex_field(*cipherparams, "iv", "iv", kIvSize, kIvSize));
  OB_TRY(Bytes ciphertext, hex_field(*crypto, "ciphertext", "ciphertext", 32, 32));
  OB_TRY(Bytes mac, hex_field(*crypto, "mac", "mac", 32, 32));
  OB_TRY(std::string kdf, string_field(*crypto, "kdf", "kdf"));
  OB_TRY(const json* kdfparams, member(*crypto, "kdfparams", "kdfparams"));
  if (!kdfparams->is_object()) return fail(Errc::corrupt, "not a keystore v3 file: kdfparams is not an object");
  OB_TRY(Bytes salt, hex_field(*kdfparams, "salt", "salt", 0, 1024));
  OB_TRY(std::uint64_t dklen, number_field(*kdfparams, "dklen", "dklen"));
  if (dklen != kDerivedKeySize) return fail(Errc::corrupt, "keystore dklen ", dklen, " is not supported (only 32)");

  std::array<std::uint8_t, kDerivedKeySize> derived{};
  const Wipe wipe{derived};
  if (kdf == "scrypt") {
    ScryptParams params;
    OB_TRY(params.n, number_field(*kdfparams, "n", "scrypt n"));
    OB_TRY(std::uint64_t r, number_field(*kdfparams, "r", "scrypt r"));
    OB_TRY(std::uint64_t p, number_field(*kdfparams, "p", "scrypt p"));
    if (params.n < 2 || (params.n & (params.n - 1)) != 0 || params.n > (1ull << 20) || r == 0 || r > 32 || p == 0 ||
        p > 16 || 128 * r * params.n > kMaxScryptMemory) {
      return fail(Errc::corrupt, "keystore scrypt parameters n=", params.n, " r=", r, " p=", p, " are out of bounds");
    }
    if (16 * r < 64 && params.n >= (1ull << (16 * r))) {
      return fail(Errc::corrupt, "keystore scrypt n=", params.n, " with r=", r, " breaks RFC 7914 (n < 2^(16 r))");
    }
    params.r = static_cast<std::uint32_t>(r);
    params.p = static_cast<std::uint32_t>(p);
    OB_TRY_VOID(scrypt(passphrase, salt, params, derived));
  } else if (kdf == "pbkdf2") {
    OB_TRY(std::uint64_t rounds, number_field(*kdfparams, "c", "pbkdf2 c"));
    OB_TRY(std::string prf, string_field(*kdfparams, "prf", "pbkdf2 prf"));
    if (prf != "hmac-sha256" || rounds == 0 || rounds > kMaxPbkdf2Rounds) {
      return fail(Errc::corrupt, "keystore pbkdf2 parameters are not supported (prf hmac-sha256, c up to 2^24)");
    }
    if (PKCS5_PBKDF2_HMAC(passphrase.data(), static_cast<int>(passphrase.size()), salt.data(),
                          static_cast<int>(salt.size()), static_cast<int>(rounds), EVP_sha256(),
                          static_cast<int>(derived.size()), derived.data()) != 1) {
      return fail(Errc::crypto, "PBKDF2 failed");
    }
  } else {
    return fail(Errc::corrupt, "keystore kdf '", kdf.substr(0, 40), "' is not supported (scrypt or pbkdf2)");
  }

  const Hash32 expected = keccak256(ByteView(derived.data() + 16, 16), ciphertext);
  if (!constant_time_equal(expected, mac)) {
    return fail(Errc::invalid_argument, "wrong passphrase (or the keystore was altered: its MAC does not match)");
  }
  std::array<std::uint8_t, 32> plain{};
  const Wipe wipe_plain{plain};
  OB_TRY_VOID(aes_128_ctr(ByteView(derived.data(), 16), iv, ciphertext, plain));
  auto key = PrivateKey::from_bytes(plain);
  if (!key) return fail(Errc::corrupt, "the keystore decrypts to an invalid private key");
  if (doc.contains("address")) {
    auto named = keystore_address(text);
    if (!named || *named != key->address()) {
      return fail(Errc::corrupt, "the keystore's key does not belong to its \"address\" field");
    }
  }
  return key;
}

Result<Address> keystore_address(std::string_view text) {
  OB_TRY(json doc, parse_json(text));
  OB_TRY(std::string address, string_field(doc, "address", "address"));
  if (!address.starts_with("0x")) address.insert(0, "0x");
  auto parsed = Address::parse(address);
  if (!parsed) return fail(Errc::corrupt, "the keystore's \"address\" field is not an address");
  return parsed;
}

std::string keystore_file_name(const Address& address, std::chrono::system_clock::time_point when) {
  const auto since_epoch = when.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds).count();
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d-%02d-%02d.%09lldZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<long long>(nanos));
  return "UTC--" + std::string(stamp) + "--" + address.to_lower_hex();
}

}  // namespace ob::wallet
