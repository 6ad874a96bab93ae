// BIP-39 mnemonics (https://github.com/bitcoin/bips/blob/master/bip-0039.mediawiki): the words a
// user writes down, from which every account of the wallet derives (bip32.h). English word
// list only: Debian's python3-mnemonic file, checked against its published SHA-256
// (2f5eed53...24dbda) when the build generates bip39_english.inc from it.
//
//   entropy (128..256 bits) || first ENT/32 bits of SHA-256(entropy) -> 11-bit word indices
//   seed = PBKDF2-HMAC-SHA512(password = words joined by " ", salt = "mnemonic" || passphrase,
//                             2048 iterations, 64 bytes)
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/bytes.h"
#include "core/error.h"

namespace ob::wallet {

/// The 64-byte BIP-39 seed BIP-32 starts from.
using Seed = std::array<std::uint8_t, 64>;

/// The 2048 words of the BIP-39 English list, in order (sorted).
std::span<const std::string_view> bip39_english_words();

/// A valid BIP-39 mnemonic (its checksum holds). Movable, not copyable; the words are wiped
/// from memory on destruction.
class Mnemonic {
 public:
  /// A new mnemonic of `words` words (12 or 24: 128 or 256 bits from OpenSSL's CSPRNG).
  /// Errors (invalid_argument): another count; (crypto): no randomness.
  static Result<Mnemonic> generate(std::size_t words);
  /// The mnemonic of `entropy` (16, 20, 24, 28 or 32 bytes). Errors (invalid_argument).
  static Result<Mnemonic> from_entropy(ByteView entropy);
  /// Checks and normalises typed words: any white space between them, either case.
  /// Errors (invalid_argument), one line each: a word count other than 12, 15, 18, 21 or 24;
  /// "word 3 ('abandn') is not in the BIP-39 English list"; a checksum that does not match.
  static Result<Mnemonic> parse(std::string_view text);

  ~Mnemonic();
  Mnemonic(Mnemonic&& other) noexcept;
  Mnemonic& operator=(Mnemonic&& other) noexcept;
  Mnemonic(const Mnemonic&) = delete;
  Mnemonic& operator=(const Mnemonic&) = delete;

  /// The words, lower case, one space between them.
  const std::string& phrase() const noexcept { return phrase_; }
  /// How many words.
  std::size_t size() const noexcept;
  /// The entropy the words encode.
  Bytes entropy() const;
  /// The BIP-39 seed with an optional passphrase (the "25th word"; the wallet uses "", as
  /// geth, ethers and anvil do). Errors (invalid_argument): a passphrase that is not ASCII
  /// (BIP-39 wants it NFKD-normalised, which is the identity only on ASCII); (crypto).
  Result<Seed> seed(std::string_view passphrase = "") const;

 private:
  explicit Mnemonic(std::string phrase) : phrase_(std::move(phrase)) {}
  std::string phrase_;
};

}  // namespace ob::wallet
