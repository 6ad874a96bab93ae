// Pieces of HTTP shared by the daemon's REST server and the CLI's client: status codes for our
// error codes and back, JSON error bodies, and the Content-Disposition header that carries a
// file's name (RFC 6266, with RFC 8187 `filename*` for names that are not plain ASCII).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace ob::api {

/// The request header of GET /v1/data/{cid}/network/stream that carries a share token
/// (coding/share_token.h): a header, not the URL, so that it stays out of logs and histories.
inline constexpr const char* kShareTokenHeader = "X-Open-Bucket-Share-Token";

/// The HTTP status for an error: 400 invalid_argument and out_of_range, 404 not_found, 409 already_exists,
/// 507 quota_exceeded, 500 for the rest (corrupt, unrecoverable, io, crypto, internal): those
/// are the node's trouble, not the request's.
int http_status(Errc code) noexcept;

/// The error code a client reports for an HTTP error status; the inverse of http_status as far
/// as it goes (401 and other 4xx map to invalid_argument, 5xx to io).
Errc errc_for_status(int status) noexcept;

/// The reason phrase of an HTTP status ("Not Found"), for bodies of errors we did not write.
std::string_view status_text(int status) noexcept;

/// The JSON error body every failing endpoint returns: {"msg": message}.
std::string error_body(std::string_view message);

/// The message of a {"msg": ...} error body, followed by ": <detail>" when the body also has a
/// non-empty "detail" string (the roles' endpoints explain seed 000's short messages there), or
/// a generic one ("HTTP 404 Not Found") when the body is not such JSON.
std::string error_message(int status, std::string_view body);

/// `attachment; filename="name"`, with `"` and `\` escaped; when the name holds bytes outside
/// printable ASCII, those become `_` there and `filename*=UTF-8''<percent-encoded>` carries the
/// exact name.
std::string content_disposition(std::string_view name);

/// The file name in a Content-Disposition value: `filename*` (UTF-8) when present, else
/// `filename` (a quoted string or a token); nullopt when there is neither.
/// Errors (invalid_argument): an unterminated quoted string, bad percent-encoding, a charset
/// other than UTF-8, or a name with control characters.
Result<std::optional<std::string>> parse_content_disposition(std::string_view value);

/// One byte range of a file: bytes [offset, offset + length).
struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

/// The range a `Range` header value asks of a file of `size` bytes (RFC 9110 14.2): one
/// `bytes=first-last`, `bytes=first-` or `bytes=-suffix`, clipped to the file. nullopt when the
/// header is to be ignored (RFC 9110 allows it): not the `bytes` unit, malformed, or several
/// ranges; the whole file is then served with 200. Errors (out_of_range): the range starts at
/// or past the end, or is an empty suffix: 416 Range Not Satisfiable.
Result<std::optional<ByteRange>> parse_byte_range(std::string_view header, std::uint64_t size);

/// Percent-encodes every byte except RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view text);

}  // namespace ob::api
