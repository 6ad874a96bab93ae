#include "core/error.h"

namespace ob {

const char* errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::not_found: return "not found";
    case Errc::out_of_range: return "out of range";
    case Errc::already_exists: return "already exists";
    case Errc::corrupt: return "corrupt";
    case Errc::unrecoverable: return "unrecoverable";
    case Errc::quota_exceeded: return "quota exceeded";
    case Errc::io: return "i/o error";
    case Errc::crypto: return "crypto error";
    case Errc::internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace ob
