// Sizes as people write them: seed 000's "2 GB" (consumer limit, `producer ls`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace ob {

/// Parses "<number> <unit>": a whole or decimal number, optional spaces, then B, KB, MB, GB, TB
/// (powers of 1000, as seed 000 writes them) or KiB, MiB, GiB, TiB (powers of 1024); units are
/// case-insensitive. Returns bytes, rounded down. Errors (invalid_argument): any other format,
/// a negative number, or more than 2^64 - 1 bytes.
Result<std::uint64_t> parse_size(std::string_view text);

/// `bytes` for people, in powers of 1000 with at most one decimal: "0 B", "5 KB", "1.5 GB".
std::string format_size(std::uint64_t bytes);

}  // namespace ob
