// Open Bucket's one error type and the Result alias every fallible call returns.
//
// Errors are values (see LevelDB's Status): nothing throws across a module boundary.
// A Result<T> holds either a T or an Error with a code and a one-line message meant
// for the person at the terminal, e.g. "block size 1000 is not a multiple of 1024".
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ob {

/// What kind of failure an Error is; callers branch on this, people read the message.
enum class Errc {
  invalid_argument,  ///< bad input from a user or a peer (parameters, malformed encodings)
  not_found,         ///< the CID, slot or file does not exist
  out_of_range,      ///< a position past the end of what exists (a block index, an offset)
  already_exists,    ///< refusing to overwrite something that exists
  corrupt,           ///< stored or received data failed an integrity check (hash, tag, format)
  unrecoverable,     ///< too many slots lost or damaged: fewer than k usable
  quota_exceeded,    ///< a store's byte quota would be exceeded
  io,                ///< the operating system or a storage library failed
  crypto,            ///< the crypto library failed (not an authentication failure: that is corrupt)
  internal,          ///< a bug: an invariant of our own did not hold
};

/// Human-readable name of an error code ("corrupt", "not found", ...).
const char* errc_name(Errc code) noexcept;

/// A failure: a code for programs and a one-line message for people.
struct Error {
  Errc code;
  std::string message;

  /// "message" alone; the code is for branching, the message already says what happened.
  const std::string& what() const noexcept { return message; }
};

/// Either a T or an Error. C++23 std::expected.
template <typename T>
using Result = std::expected<T, Error>;

/// Pieces of an error message: text as is, numbers in decimal.
inline std::string to_message_part(std::string_view s) { return std::string(s); }
inline std::string to_message_part(const std::string& s) { return s; }
inline std::string to_message_part(const char* s) { return s; }
inline std::string to_message_part(char c) { return std::string(1, c); }
template <typename N>
  requires std::is_arithmetic_v<N>
std::string to_message_part(N n) {
  return std::to_string(n);
}

/// Shorthand for returning a failure: `return fail(Errc::corrupt, "block ", j, " of slot ", i, " ...")`.
template <typename... Parts>
std::unexpected<Error> fail(Errc code, Parts&&... parts) {
  std::string message;
  (message.append(to_message_part(std::forward<Parts>(parts))), ...);
  return std::unexpected(Error{code, std::move(message)});
}

/// Adds context in front of an error's message, keeping its code:
/// `prefixed(e, "slot 3")` turns "bad tag" into "slot 3: bad tag".
inline Error prefixed(Error e, std::string_view context) {
  e.message = std::string(context) + ": " + e.message;
  return e;
}

/// Propagates the error of a Result expression, or yields its value.
/// Usage: `OB_TRY(auto cid, Cid::parse(text));` or `OB_TRY_VOID(store.put(...));`
#define OB_CONCAT_INNER(a, b) a##b
#define OB_CONCAT(a, b) OB_CONCAT_INNER(a, b)
#define OB_TRY_IMPL(tmp, decl, expr)                       \
  auto tmp = (expr);                                       \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  decl = std::move(tmp).value()
#define OB_TRY(decl, expr) OB_TRY_IMPL(OB_CONCAT(ob_try_, __LINE__), decl, expr)
#define OB_TRY_VOID(expr)                                                  \
  do {                                                                     \
    auto ob_try_void_ = (expr);                                            \
    if (!ob_try_void_) return std::unexpected(std::move(ob_try_void_).error()); \
  } while (0)

}  // namespace ob
