#include "api/http.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

namespace ob::api {
namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 8187 ext-value: charset "'" [ language ] "'" value-chars (percent-encoded).
Result<std::string> decode_ext_value(std::string_view value) {
  const std::size_t q1 = value.find('\'');
  const std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return fail(Errc::invalid_argument, "Content-Disposition: malformed filename*");
  if (!iequals(value.substr(0, q1), "utf-8")) {
    return fail(Errc::invalid_argument, "Content-Disposition: filename* must be UTF-8");
  }
  std::string out;
  for (std::size_t i = q2 + 1; i < value.size(); ++i) {
    if (value[i] != '%') {
      out.push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size() || hex_value(value[i + 1]) < 0 || hex_value(value[i + 2]) < 0) {
      return fail(Errc::invalid_argument, "Content-Disposition: bad percent-encoding in filename*");
    }
    out.push_back(static_cast<char>(hex_value(value[i + 1]) * 16 + hex_value(value[i + 2])));
    i += 2;
  }
  return out;
}

}  // namespace

int http_status(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument:
    case Errc::out_of_range: return 400;
    case Errc::not_found: return 404;
    case Errc::already_exists: return 409;
    case Errc::quota_exceeded: return 507;
    case Errc::corrupt:
    case Errc::unrecoverable:
    case Errc::io:
    case Errc::crypto:
    case Errc::internal: return 500;
  }
  return 500;
}

Errc errc_for_status(int status) noexcept {
  switch (status) {
    case 404: return Errc::not_found;
    case 409: return Errc::already_exists;
    case 507: return Errc::quota_exceeded;
    default: return status >= 400 && status < 500 ? Errc::invalid_argument : Errc::io;
  }
}

std::string_view status_text(int status) noexcept {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return status >= 500 ? "Server Error" : "Client Error";
  }
}

std::string error_body(std::string_view message) {
  // dump() with the replace handler: a message quoting invalid UTF-8 must not throw.
  return nlohmann::json{{"msg", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_message(int status, std::string_view body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_object() && json.contains("msg") && json["msg"].is_string()) {
    std::string message = json["msg"].get<std::string>();
    // Seed 000's replies keep "msg" to the seed's words; the role endpoints say why in "detail".
    if (json.contains("detail") && json["detail"].is_string() && !json["detail"].get<std::string>().empty()) {
      message += ": " + json["detail"].get<std::string>();
    }
    return message;
  }
  return "HTTP " + std::to_string(status) + " " + std::string(status_text(status));
}

std::string percent_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0x0f]);
    }
  }
  return out;
}

std::string content_disposition(std::string_view name) {
  std::string fallback;
  bool plain = true;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_control(c) || c >= 0x80) {
      plain = false;
      fallback.push_back('_');
    } else {
      if (ch == '"' || ch == '\\') fallback.push_back('\\');
      fallback.push_back(ch);
    }
  }
  std::string out = "attachment; filename=\"" + fallback + "\"";
  if (!plain) out += "; filename*=UTF-8''" + percent_encode(name);
  return out;
}

Result<std::optional<std::string>> parse_content_disposition(std::string_view value) {
  // disposition-type *( OWS ";" OWS disposition-parm ), parm = token "=" ( token / quoted-string )
  std::optional<std::string> filename, filename_ext;
  std::size_t pos = value.find(';');
  while (pos != std::string_view::npos && pos < value.size()) {
    ++pos;  // past ';'
    const std::size_t eq = value.find('=', pos);
    if (eq == std::string_view::npos) {
      if (!trim(value.substr(pos)).empty()) {
        return fail(Errc::invalid_argument, "Content-Disposition: a parameter without a value");
      }
      break;
    }
    const std::string_view key = trim(value.substr(pos, eq - pos));
    std::size_t i = eq + 1;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::string parsed;
    if (i < value.size() && value[i] == '"') {
      bool closed = false;
      for (++i; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) {
          parsed.push_back(value[++i]);
        } else if (value[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          parsed.push_back(value[i]);
        }
      }
      if (!closed) return fail(Errc::invalid_argument, "Content-Disposition: unterminated quoted string");
      pos = value.find(';', i);
      if (!trim(value.substr(i, pos == std::string_view::npos ? std::string_view::npos : pos - i)).empty()) {
        return fail(Errc::invalid_argument, "Content-Disposition: text after a quoted string");
      }
    } else {
      pos = value.find(';', i);
      parsed = std::string(trim(value.substr(i, pos == std::string_view::npos ? std::string_view::npos : pos - i)));
    }
    if (iequals(key, "filename*")) {
      OB_TRY(filename_ext, decode_ext_value(parsed));
    } else if (iequals(key, "filename")) {
      filename = std::move(parsed);
    }
  }
  std::optional<std::string> name = filename_ext ? filename_ext : filename;
  if (name) {
    for (const char c : *name) {
      if (is_control(static_cast<unsigned char>(c))) {
        return fail(Errc::invalid_argument, "Content-Disposition: the file name holds control characters");
      }
    }
  }
  return name;
}

Result<std::optional<ByteRange>> parse_byte_range(std::string_view header, std::uint64_t size) {
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit)) return std::nullopt;
  std::string_view spec = header.substr(kUnit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;  // several: the whole file
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto number = [](std::string_view text) -> std::optional<std::uint64_t> {
    std::uint64_t value = 0;
    if (text.empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  };
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);
  if (first_text.empty()) {  // bytes=-suffix: the last `suffix` bytes
    const auto suffix = number(last_text);
    if (!suffix) return std::nullopt;
    if (*suffix == 0 || size == 0) return fail(Errc::out_of_range, "the range ", header, " selects no byte of ", size);
    const std::uint64_t length = std::min(*suffix, size);
    return ByteRange{size - length, length};
  }
  const auto first = number(first_text);
  if (!first) return std::nullopt;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    const auto given = number(last_text);
    if (!given || *given < *first) return std::nullopt;
    last = std::min(last, *given);
  }
  if (*first >= size) return fail(Errc::out_of_range, "the range ", header, " starts past the end of ", size, " bytes");
  return ByteRange{*first, last - *first + 1};
}

}  // namespace ob::api
