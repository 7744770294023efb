// Response header values that need care: Content-Disposition for a name chosen by a user
// (RFC 6266 + RFC 8187), and HTTP dates (RFC 9110 §5.6.7 IMF-fixdate) computed from a caller
// given time (no system clock in core/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::resource::http {

// `attachment; filename="<fallback>"; filename*=UTF-8''<pct-encoded>`.
// The fallback keeps printable ASCII except `"`, `\`, `%` and `/`; every other byte sequence
// (each UTF-8 character, each control or invalid byte) becomes one `_`, so a browser that
// ignores filename* still gets a safe name of similar shape. filename* percent-encodes every
// byte outside RFC 8187's attr-char. An empty name becomes "download".
std::string content_disposition(std::string_view name);

// "Sun, 06 Nov 1994 08:49:37 GMT" for seconds since the Unix epoch (>= 0).
std::string http_date(int64_t unix_s);

// Strips characters that could split a header line (CR, LF, other controls) from a value taken
// from a ticket; signed by the chat server, which already refuses them, so this is a second
// line of defence only.
std::string header_safe(std::string_view value);

// ASCII case-insensitive equality: header field names and the `bytes` range unit
// (RFC 9110 §5.1, §14.1).
bool ascii_iequals(std::string_view a, std::string_view b);

}  // namespace ferry::resource::http
