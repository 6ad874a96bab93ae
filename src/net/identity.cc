#include "net/identity.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "coding/crypto.h"
#include "core/multibase.h"
#include "store/file_io.h"

namespace ob::net {
namespace {

// PublicKey{Type = Ed25519} protobuf prefix, then identity multihash header (code 0, length 36).
constexpr std::array<std::uint8_t, 4> kKeyProtoPrefix = {0x08, 0x01, 0x12, 0x20};
constexpr std::array<std::uint8_t, 2> kIdentityMultihash = {0x00, 0x24};
constexpr std::size_t kPeerIdSize = kIdentityMultihash.size() + kKeyProtoPrefix.size() + kEd25519PublicKeySize;

}  // namespace

PeerId PeerId::from_public_key(const PublicKey& key) { return PeerId(key); }

Bytes PeerId::to_bytes() const {
  Bytes out;
  out.reserve(kPeerIdSize);
  out.insert(out.end(), kIdentityMultihash.begin(), kIdentityMultihash.end());
  out.insert(out.end(), kKeyProtoPrefix.begin(), kKeyProtoPrefix.end());
  out.insert(out.end(), key_.begin(), key_.end());
  return out;
}

std::string PeerId::to_string() const { return multibase::encode_base58btc(to_bytes()); }

Result<PeerId> PeerId::parse(std::string_view text) {
  if (text.empty() || text.size() > 128) return fail(Errc::invalid_argument, "peer ID has an invalid length");
  auto bytes = multibase::decode_base58btc(text);
  if (!bytes) return fail(Errc::invalid_argument, "peer ID is not base58btc: ", bytes.error().message);
  const ByteView b(*bytes);
  if (b.size() != kPeerIdSize || !std::equal(kIdentityMultihash.begin(), kIdentityMultihash.end(), b.begin()) ||
      !std::equal(kKeyProtoPrefix.begin(), kKeyProtoPrefix.end(), b.begin() + kIdentityMultihash.size())) {
    return fail(Errc::invalid_argument, "peer ID '", text, "' is not an Ed25519 libp2p peer ID (12D3KooW...)");
  }
  PublicKey key;
  std::copy(b.end() - kEd25519PublicKeySize, b.end(), key.begin());
  return PeerId(key);
}

bool verify_signature(const PublicKey& key, ByteView message, const Signature& signature) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size());
  if (pkey == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx, signature.data(), signature.size(), message.data(), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ok;
}

Result<Identity> Identity::from_seed(ByteView seed) {
  if (seed.size() != kEd25519SeedSize) {
    return fail(Errc::corrupt, "an Ed25519 private key is ", kEd25519SeedSize, " bytes, not ", seed.size());
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  if (key == nullptr) return fail(Errc::crypto, "cannot load the Ed25519 private key");
  PublicKey public_key;
  std::size_t len = public_key.size();
  if (EVP_PKEY_get_raw_public_key(key, public_key.data(), &len) != 1 || len != public_key.size()) {
    EVP_PKEY_free(key);
    return fail(Errc::crypto, "cannot derive the Ed25519 public key");
  }
  return Identity(key, public_key);
}

Result<Identity> Identity::load_or_create(const std::filesystem::path& key_file) {
  std::error_code ec;
  if (!std::filesystem::exists(key_file, ec)) {
    std::array<std::uint8_t, kEd25519SeedSize> seed;
    OB_TRY_VOID(crypto::random_bytes(seed));
    std::filesystem::create_directories(key_file.parent_path(), ec);
    OB_TRY_VOID(fileio::write_file_atomic(key_file, seed, 0600));
  }
  OB_TRY(Bytes seed, fileio::read_private_file(key_file, 1024));
  return from_seed(seed);
}

Identity::~Identity() { EVP_PKEY_free(key_); }

Identity::Identity(Identity&& other) noexcept
    : key_(std::exchange(other.key_, nullptr)), peer_id_(other.peer_id_) {}

Identity& Identity::operator=(Identity&& other) noexcept {
  std::swap(key_, other.key_);
  std::swap(peer_id_, other.peer_id_);
  return *this;
}

Result<Signature> Identity::sign(ByteView message) const {
  Signature signature;
  std::size_t len = signature.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
                  EVP_DigestSign(ctx, signature.data(), &len, message.data(), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len != signature.size()) return fail(Errc::crypto, "Ed25519 signing failed");
  return signature;
}

}  // namespace ob::net
