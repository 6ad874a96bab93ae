#include "wallet/bip32.h"

#include <cryptopp/ripemd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "core/sha256.h"

namespace ob::wallet {
namespace {

constexpr std::uint32_t kXprvVersion = 0x0488ADE4;  // BIP-32 mainnet private
constexpr std::uint32_t kXpubVersion = 0x0488B21E;  // BIP-32 mainnet public

/// HMAC-SHA512(key, data) split into its halves, IL and IR.
Result<std::array<std::uint8_t, 64>> hmac_sha512(ByteView key, ByteView data) {
  std::array<std::uint8_t, 64> out{};
  unsigned int size = 0;
  if (HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &size) ==
          nullptr ||
      size != out.size()) {
    return fail(Errc::crypto, "HMAC-SHA512 failed");
  }
  return out;
}

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

/// Base58Check (Bitcoin's alphabet): payload || first 4 bytes of SHA-256(SHA-256(payload)).
std::string base58check(Bytes payload) {
  static constexpr char kAlphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  const Sha256Digest once = Sha256::hash(payload);
  const Sha256Digest twice = Sha256::hash(once);
  payload.insert(payload.end(), twice.begin(), twice.begin() + 4);
  std::string reversed;
  Bytes number = payload;
  std::size_t start = 0;
  while (start < number.size() && number[start] == 0) ++start;
  const std::size_t leading_zeros = start;
  while (start < number.size()) {
    unsigned remainder = 0;
    for (std::size_t i = start; i < number.size(); ++i) {
      const unsigned cur = remainder * 256 + number[i];
      number[i] = static_cast<std::uint8_t>(cur / 58);
      remainder = cur % 58;
    }
    reversed.push_back(kAlphabet[remainder]);
    while (start < number.size() && number[start] == 0) ++start;
  }
  reversed.append(leading_zeros, '1');
  return std::string(reversed.rbegin(), reversed.rend());
}

std::uint32_t fingerprint(const PrivateKey& key) {
  // HASH160 = RIPEMD-160(SHA-256(compressed public key)); its first 4 bytes.
  const auto pub = key.compressed_public_key();
  const Sha256Digest sha = Sha256::hash(pub);
  std::array<std::uint8_t, 20> ripemd{};
  CryptoPP::RIPEMD160 hash;
  hash.Update(sha.data(), sha.size());
  hash.Final(ripemd.data());
  return static_cast<std::uint32_t>(ripemd[0]) << 24 | static_cast<std::uint32_t>(ripemd[1]) << 16 |
         static_cast<std::uint32_t>(ripemd[2]) << 8 | ripemd[3];
}

}  // namespace

ExtendedKey::ExtendedKey(PrivateKey key, const std::array<std::uint8_t, 32>& chain_code, std::uint8_t depth,
                         std::uint32_t parent_fingerprint, std::uint32_t child_number)
    : key_(std::move(key)),
      chain_code_(chain_code),
      depth_(depth),
      parent_fingerprint_(parent_fingerprint),
      child_number_(child_number) {}

Result<ExtendedKey> ExtendedKey::from_seed(ByteView seed) {
  if (seed.size() < 16 || seed.size() > 64) {
    return fail(Errc::invalid_argument, "a BIP-32 seed is 16 to 64 bytes, not ", seed.size());
  }
  OB_TRY(auto i, hmac_sha512(as_bytes("Bitcoin seed"), seed));
  auto key = PrivateKey::from_bytes(ByteView(i.data(), 32));
  std::array<std::uint8_t, 32> chain{};
  std::copy(i.begin() + 32, i.end(), chain.begin());
  OPENSSL_cleanse(i.data(), i.size());
  if (!key) return fail(Errc::invalid_argument, "this seed gives an invalid BIP-32 master key");
  return ExtendedKey(std::move(*key), chain, 0, 0, 0);
}

Result<ExtendedKey> ExtendedKey::child(std::uint32_t index) const {
  if (depth_ == 255) return fail(Errc::invalid_argument, "BIP-32 keys are at most 255 levels deep");
  Bytes data;
  data.reserve(37);
  if (index >= kHardened) {
    data.push_back(0);
    data.insert(data.end(), key_.bytes().begin(), key_.bytes().end());
  } else {
    const auto pub = key_.compressed_public_key();
    data.insert(data.end(), pub.begin(), pub.end());
  }
  put_be32(data, index);
  auto i = hmac_sha512(chain_code_, data);
  OPENSSL_cleanse(data.data(), data.size());
  if (!i) return std::unexpected(i.error());
  // key = IL + parent key (mod n); IL >= n and a zero sum are the invalid cases of BIP-32.
  auto key = key_.plus(ByteView(i->data(), 32));
  std::array<std::uint8_t, 32> chain{};
  std::copy(i->begin() + 32, i->end(), chain.begin());
  OPENSSL_cleanse(i->data(), i->size());
  if (!key) return fail(Errc::invalid_argument, "BIP-32 child ", index, " is invalid: use the next index");
  return ExtendedKey(std::move(*key), chain, static_cast<std::uint8_t>(depth_ + 1), fingerprint(key_), index);
}

Result<ExtendedKey> ExtendedKey::derive(std::string_view path) const {
  OB_TRY(std::vector<std::uint32_t> steps, parse_derivation_path(path));
  if (steps.empty()) {  // "m" itself: a copy of this key
    OB_TRY(PrivateKey same, PrivateKey::from_bytes(key_.bytes()));
    return ExtendedKey(std::move(same), chain_code_, depth_, parent_fingerprint_, child_number_);
  }
  OB_TRY(ExtendedKey current, child(steps.front()));
  for (std::size_t s = 1; s < steps.size(); ++s) {
    OB_TRY(current, current.child(steps[s]));
  }
  return current;
}

Bytes ExtendedKey::serialized_header(std::uint32_t version) const {
  Bytes payload;
  put_be32(payload, version);
  payload.push_back(depth_);
  put_be32(payload, parent_fingerprint_);
  put_be32(payload, child_number_);
  payload.insert(payload.end(), chain_code_.begin(), chain_code_.end());
  return payload;
}

std::string ExtendedKey::to_xprv() const {
  Bytes payload = serialized_header(kXprvVersion);
  payload.push_back(0);
  payload.insert(payload.end(), key_.bytes().begin(), key_.bytes().end());
  std::string text = base58check(payload);
  OPENSSL_cleanse(payload.data(), payload.size());
  return text;
}

std::string ExtendedKey::to_xpub() const {
  Bytes payload = serialized_header(kXpubVersion);
  const auto pub = key_.compressed_public_key();
  payload.insert(payload.end(), pub.begin(), pub.end());
  return base58check(std::move(payload));
}

Result<std::vector<std::uint32_t>> parse_derivation_path(std::string_view path) {
  const auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, "derivation path '", path.substr(0, 80), "': ", why);
  };
  if (path != "m" && !path.starts_with("m/")) return bad("must start with m/");
  std::vector<std::uint32_t> steps;
  std::string_view rest = path.substr(1);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t end = std::min(rest.find('/'), rest.size());
    std::string_view step = rest.substr(0, end);
    rest.remove_prefix(end);
    bool hardened = false;
    if (!step.empty() && (step.back() == '\'' || step.back() == 'h' || step.back() == 'H')) {
      hardened = true;
      step.remove_suffix(1);
    }
    std::uint32_t index = 0;
    const auto [ptr, ec] = std::from_chars(step.data(), step.data() + step.size(), index);
    if (step.empty() || ec != std::errc() || ptr != step.data() + step.size()) return bad("each step is a number");
    if (index >= kHardened) return bad("an index is below 2^31 (mark hardened ones with ')");
    steps.push_back(hardened ? index | kHardened : index);
    if (steps.size() > 255) return bad("more than 255 steps");
  }
  return steps;
}

std::string ethereum_account_path(std::uint32_t index) { return "m/44'/60'/0'/0/" + std::to_string(index); }

Result<PrivateKey> ethereum_account_key(const Mnemonic& mnemonic, std::uint32_t index) {
  if (index >= kHardened) return fail(Errc::invalid_argument, "an account index is below 2^31, not ", index);
  OB_TRY(Seed seed, mnemonic.seed());
  auto master = ExtendedKey::from_seed(seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!master) return std::unexpected(master.error());
  OB_TRY(ExtendedKey account, master->derive(ethereum_account_path(index)));
  return PrivateKey::from_bytes(account.key().bytes());
}

}  // namespace ob::wallet
