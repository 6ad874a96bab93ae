// BIP-32 hierarchical deterministic keys (https://github.com/bitcoin/bips/blob/master/bip-0032.mediawiki),
// private derivation only, and the BIP-44 path of the wallet's Ethereum accounts:
//
//   master: I = HMAC-SHA512(key = "Bitcoin seed", seed); key = I[0:32], chain code = I[32:64]
//   child i: I = HMAC-SHA512(chain code, i >= 2^31 ? 0x00 || key || ser32(i)
//                                                  : compressed public key || ser32(i))
//            key = I[0:32] + parent key (mod n), chain code = I[32:64]
//   account i of a mnemonic: m/44'/60'/0'/0/i (BIP-44, coin type 60 = Ether), as geth,
//   ethers, MetaMask and anvil derive it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/error.h"
#include "wallet/keys.h"
#include "wallet/mnemonic.h"

namespace ob::wallet {

/// The bit that marks a hardened child index (written i' or iH).
inline constexpr std::uint32_t kHardened = 0x80000000u;

/// An extended private key: a key, its chain code and where it sits in the tree. Movable.
class ExtendedKey {
 public:
  /// The master key of a seed of 16 to 64 bytes. Errors (invalid_argument): another size, or a
  /// seed whose master key is invalid (probability ~2^-127).
  static Result<ExtendedKey> from_seed(ByteView seed);

  /// Child `index` (hardened when index >= kHardened). Errors (invalid_argument): the child key
  /// is invalid (probability ~2^-127; BIP-32 says to use the next index).
  Result<ExtendedKey> child(std::uint32_t index) const;
  /// The key at `path` below this one, e.g. "m/44'/60'/0'/0/3" from a master key.
  /// Errors (invalid_argument): a malformed path (see parse_derivation_path); child()'s.
  Result<ExtendedKey> derive(std::string_view path) const;

  const PrivateKey& key() const noexcept { return key_; }
  const std::array<std::uint8_t, 32>& chain_code() const noexcept { return chain_code_; }
  /// Base58Check "xprv..." serialisation (mainnet version bytes), as BIP-32's test vectors.
  std::string to_xprv() const;
  /// Base58Check "xpub..." serialisation of the matching public key.
  std::string to_xpub() const;

 private:
  ExtendedKey(PrivateKey key, const std::array<std::uint8_t, 32>& chain_code, std::uint8_t depth,
              std::uint32_t parent_fingerprint, std::uint32_t child_number);
  /// version || depth || parent fingerprint || child number || chain code (BIP-32 serialisation).
  Bytes serialized_header(std::uint32_t version) const;
  PrivateKey key_;
  std::array<std::uint8_t, 32> chain_code_{};
  std::uint8_t depth_ = 0;
  std::uint32_t parent_fingerprint_ = 0;
  std::uint32_t child_number_ = 0;
};

/// Parses "m/44'/60'/0'/0/0" ("'", "h" or "H" marks a hardened index) into child indices.
/// Errors (invalid_argument): not starting with "m", an empty or non-numeric step, an index
/// of 2^31 or more, more than 255 steps.
Result<std::vector<std::uint32_t>> parse_derivation_path(std::string_view path);

/// "m/44'/60'/0'/0/<index>": the path of the wallet's account `index`.
std::string ethereum_account_path(std::uint32_t index);

/// The private key of account `index` (< 2^31) of `mnemonic` (BIP-39 seed without passphrase).
/// Errors (invalid_argument, crypto).
Result<PrivateKey> ethereum_account_key(const Mnemonic& mnemonic, std::uint32_t index);

}  // namespace ob::wallet
