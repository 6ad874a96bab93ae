// Keystore v3 files (https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/),
// the format geth, ethers and MetaMask exchange keys in:
//
//   {"address": "<40 hex>", "id": "<UUID v4>", "version": 3,
//    "crypto": {"cipher": "aes-128-ctr", "cipherparams": {"iv": "<16 bytes hex>"},
//               "ciphertext": "<32 bytes hex>",
//               "kdf": "scrypt", "kdfparams": {"dklen": 32, "n": 262144, "r": 8, "p": 1, "salt": "<32 bytes hex>"},
//               "mac": "<hex of Keccak-256(derived key[16:32] || ciphertext)>"}}
//
// The private key is AES-128-CTR encrypted under the first 16 bytes of the key derived from the
// passphrase; the MAC over the other 16 and the ciphertext tells a wrong passphrase (or an
// altered file) before anything is decrypted. Reading also takes "Crypto" for "crypto" (ethers
// writes it) and the "pbkdf2" KDF (prf hmac-sha256) that some tools write. docs/formats.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "wallet/keys.h"

namespace ob::wallet {

/// scrypt's cost parameters (memory = 128 * r * n bytes).
struct ScryptParams {
  std::uint64_t n = 262144;  ///< CPU/memory cost, a power of two: geth's standard 2^18 (256 MiB, ~1 s)
  std::uint32_t r = 8;       ///< block size
  std::uint32_t p = 1;       ///< parallelism
};

/// The parameters new keystores get: geth's standard ones, unless the test-only environment
/// variable OPEN_BUCKET_TEST_SCRYPT_N names a power of two from 1024 to 262144 (test suites
/// use 4096 to save seconds per keystore; never set it for keys that hold value). Any other
/// value of it is ignored.
ScryptParams default_scrypt_params();

/// `key` as keystore v3 JSON text encrypted under `passphrase` (fresh salt, IV and UUID).
/// Errors (invalid_argument): an empty passphrase; (crypto): the library failed.
Result<std::string> encrypt_keystore(const PrivateKey& key, std::string_view passphrase,
                                     const ScryptParams& params = default_scrypt_params());

/// The private key in keystore v3 JSON `text`. Errors: (corrupt) not keystore v3 JSON, a cipher
/// or KDF other than the above, KDF parameters out of bounds (scrypt n a power of two up to
/// 2^20, r up to 32, p up to 16, at most 1 GiB of memory), or a key that does not match the
/// file's "address"; (invalid_argument) the MAC does not match: a wrong passphrase, or an
/// altered file; (crypto).
Result<PrivateKey> decrypt_keystore(std::string_view text, std::string_view passphrase);

/// The address a keystore's "address" field names, without decrypting it. Errors (corrupt): not
/// JSON, or no valid "address" field (it is optional in the format).
Result<Address> keystore_address(std::string_view text);

/// geth's file name for a keystore: "UTC--2026-12-02T17-53-00.123456789Z--<40 hex>".
std::string keystore_file_name(const Address& address, std::chrono::system_clock::time_point when);

}  // namespace ob::wallet
