// Where the data path reads from and writes to: plain callbacks, so a file descriptor, a socket
// or a test's memory can feed the engine without copies through iostreams.
#pragma once

#include <cstdint>
#include <algorithm>
#include <functional>

#include "core/bytes.h"
#include "core/error.h"

namespace ob {

/// Fills up to out.size() bytes; returns how many were written, 0 only at end of stream.
using ByteSource = std::function<Result<std::size_t>(MutableByteView out)>;

/// Consumes bytes (all of them, or fails).
using ByteSink = std::function<Result<void>(ByteView data)>;

/// Told how far a long transfer is: bytes done out of total (total 0 when unknown).
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// A source over bytes in memory (tests, small inputs). `data` must outlive the source.
inline ByteSource memory_source(ByteView data) {
  return [data, offset = std::size_t{0}](MutableByteView out) mutable -> Result<std::size_t> {
    const std::size_t n = std::min(out.size(), data.size() - offset);
    std::copy_n(data.data() + offset, n, out.data());
    offset += n;
    return n;
  };
}

/// A sink appending to `out` (tests, small outputs). `out` must outlive the sink.
inline ByteSink memory_sink(Bytes& out) {
  return [&out](ByteView data) -> Result<void> {
    out.insert(out.end(), data.begin(), data.end());
    return {};
  };
}

}  // namespace ob
