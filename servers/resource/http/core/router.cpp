// Download routes (see router.h).
#include "servers/resource/http/core/router.h"

#include <http_parser.h>

#include "servers/resource/http/core/headers.h"
#include "servers/resource/http/core/range.h"

namespace ferry::resource::http {

namespace {

constexpr uint64_t kMaxMessageId = (1ull << 53) - 1;

bool is_head(const Request& r) { return r.method == "HEAD"; }

// The connection closes after this response unless the request allows keeping it.
bool closes(const Request* r, bool force) { return force || !r || !r->keep_alive || r->upgrade; }

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
}

// Headers every response carries; `close` adds `Connection: close`, and an HTTP/1.0 client that
// asked for keep-alive is told it is kept.
std::string common_headers(const Request* r, bool close, int64_t now_ms) {
  std::string h = "Server: ferry-resd\r\nDate: " + http_date(now_ms / 1000) + "\r\n";
  if (close) {
    h += "Connection: close\r\n";
  } else if (r && r->version_minor == 0) {
    h += "Connection: keep-alive\r\n";
  }
  return h;
}

bool iprefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// "Bearer <ticket>" (scheme case-insensitive, RFC 9110 §11.1); other schemes give nothing.
bool bearer(std::string_view value, std::string& ticket) {
  if (!iprefix(value, "bearer ")) return false;
  value.remove_prefix(7);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return false;
  ticket.assign(value);
  return true;
}

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    case 416:
      return "Range Not Satisfiable";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

bool parse_target(std::string_view target, uint64_t& message_id, std::string& query_ticket) {
  if (target.empty() || target.front() != '/') return false;  // origin-form only
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(target.data(), target.size(), 0, &u) != 0) return false;
  if (!(u.field_set & (1 << UF_PATH)) || (u.field_set & (1 << UF_FRAGMENT))) return false;
  std::string_view path = target.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  if (path.substr(0, 3) != "/m/") return false;
  std::string_view id = path.substr(3);
  // Decimal without leading zeros: one spelling per message; anything else (%2F, "..", a
  // trailing slash or segment) is not a path of this server.
  if (id.empty() || id.size() > 16 || id.front() == '0') return false;
  uint64_t v = 0;
  for (char c : id) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > kMaxMessageId) return false;
  message_id = v;
  query_ticket.clear();
  if (u.field_set & (1 << UF_QUERY)) {
    std::string_view q = target.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    // key=value pairs split on '&'; the first `t` counts, other parameters are ignored.
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      if (pair.substr(0, 2) == "t=") {
        query_ticket.assign(pair.substr(2));
        break;
      }
      if (amp == std::string_view::npos) break;
      q.remove_prefix(amp + 1);
    }
  }
  return true;
}

const char* error_code(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "no_ticket";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 414:
      return "target_too_long";
    case 416:
      return "range_not_satisfiable";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "version_not_supported";
    default:
      return "internal";
  }
}

Response error_response(const Request* req, int status, const std::string& message, int64_t now_ms,
                        bool close, const char* code) {
  Response r;
  r.status = status;
  r.close = closes(req, close);
  r.body = message + "\n";
  r.head = status_line(status) + common_headers(req, r.close, now_ms) +
           "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " +
           std::to_string(r.body.size()) +
           "\r\nCache-Control: no-store\r\nFerry-Error: " + (code ? code : error_code(status)) +
           "\r\n";
  if (status == 401) r.head += "WWW-Authenticate: Bearer realm=\"ferry\"\r\n";
  if (status == 405) r.head += "Allow: GET, HEAD\r\n";
  r.head += "\r\n";
  if (req && is_head(*req)) r.body.clear();
  return r;
}

Decision route(const Request& req, std::string_view key, int64_t now_ms) {
  Decision d;
  if (req.method != "GET" && req.method != "HEAD") {
    d.response = error_response(
        &req, 405, "method " + req.method + " is not allowed; use GET or HEAD", now_ms);
    return d;
  }
  uint64_t id = 0;
  std::string query_ticket, header_ticket;
  if (!parse_target(req.target, id, query_ticket)) {
    d.response =
        error_response(&req, 400, "bad path: downloads are at /m/<message id>?t=<ticket>", now_ms);
    return d;
  }
  // The header wins when both are present (docs/protocol-download.md §3).
  bool from_header = req.has_authorization && bearer(req.authorization, header_ticket);
  const std::string& ticket = from_header ? header_ticket : query_ticket;
  if (ticket.empty()) {
    d.response = error_response(
        &req, 401, "a download ticket is required: ask the chat server for a download_url", now_ms);
    return d;
  }
  proto::TicketError e =
      proto::ticket_verify(ticket, key, proto::TicketKind::Download, now_ms, d.claims);
  if (e != proto::TicketError::Ok) {
    // The SDK tells "ask for a fresh URL" (expired) from "give up" (forged) by this code.
    const char* code = e == proto::TicketError::Expired        ? "ticket_expired"
                       : e == proto::TicketError::BadSignature ? "ticket_forged"
                       : e == proto::TicketError::WrongKind    ? "ticket_wrong_kind"
                                                               : "ticket_malformed";
    d.response = error_response(&req, 403, proto::ticket_error_message(e), now_ms, false, code);
    return d;
  }
  if (d.claims.message_id != id) {
    d.response = error_response(&req, 403,
                                "the ticket is for message " + std::to_string(d.claims.message_id) +
                                    ", not " + std::to_string(id),
                                now_ms, false, "ticket_other_message");
    return d;
  }
  d.lookup = true;
  return d;
}

Response respond_file(const Request& req, const proto::TicketClaims& claims, const FileInfo& file,
                      int64_t now_ms) {
  if (!file.found) {
    return error_response(&req, 404,
                          "message " + std::to_string(claims.message_id) +
                              " has no stored file (cancelled or deleted)",
                          now_ms);
  }
  if (file.size != claims.size) {
    return error_response(&req, 500, "the stored file does not have the expected size", now_ms);
  }
  std::string etag = "\"" + claims.sha256_hex + "\"";
  std::string last_modified = http_date(file.mtime_s);
  RangeResult range;  // whole
  if (req.has_range && (!req.has_if_range || if_range_matches(req.if_range, etag, last_modified))) {
    range = evaluate_range(req.range, file.size);
  }
  Response r;
  r.close = closes(&req, false);
  std::string h = common_headers(&req, r.close, now_ms);
  if (range.kind == RangeResult::Kind::Unsatisfiable) {
    r = error_response(&req, 416,
                       "the range is outside the file's " + std::to_string(file.size) + " bytes",
                       now_ms);
    // Content-Range goes right before the blank line that ends the head.
    r.head.insert(r.head.size() - 2,
                  "Content-Range: bytes */" + std::to_string(file.size) + "\r\n");
    return r;
  }
  if (range.kind == RangeResult::Kind::Partial) {
    r.status = 206;
    r.offset = range.first;
    r.length = range.last - range.first + 1;
    h += "Content-Range: bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) +
         "/" + std::to_string(file.size) + "\r\n";
  } else {
    r.status = 200;
    r.offset = 0;
    r.length = file.size;
  }
  h += "Content-Length: " + std::to_string(r.length) + "\r\n";
  std::string mime = header_safe(claims.mime);
  h += "Content-Type: " + (mime.empty() ? std::string("application/octet-stream") : mime) + "\r\n";
  h += "Content-Disposition: " + content_disposition(claims.name) + "\r\n";
  h += "ETag: " + etag + "\r\nLast-Modified: " + last_modified + "\r\n";
  h += "Accept-Ranges: bytes\r\nCache-Control: private, max-age=0\r\n";
  r.head = status_line(r.status) + h + "\r\n";
  if (is_head(req)) r.length = 0;
  return r;
}

}  // namespace ferry::resource::http
