// Keccak-256, the hash Ethereum uses everywhere (addresses, transaction hashes, keystore MACs):
// the original Keccak submission with 0x01 padding, not NIST SHA3-256 (0x06 padding), through
// Crypto++'s Keccak_256 (OpenSSL 3.0 has only SHA3).
#pragma once

#include <array>
#include <cstdint>

#include "core/bytes.h"

namespace ob::wallet {

/// A 32-byte Keccak-256 digest.
using Hash32 = std::array<std::uint8_t, 32>;

/// Keccak-256 of `data`. Keccak-256("") = c5d24601...5d85a470.
Hash32 keccak256(ByteView data);

/// Keccak-256 of `a || b` without joining them first (keystore MAC: key half || ciphertext).
Hash32 keccak256(ByteView a, ByteView b);

}  // namespace ob::wallet
