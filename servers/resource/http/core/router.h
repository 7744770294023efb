// The download routes of ferry-resd's HTTP listener as pure functions: (request, ticket key,
// clock) -> an answer or "look up this file", then (request, ticket claims, what the lookup
// found, clock) -> the response head and the byte range to send. No I/O: the adapter
// (http/uv/) does the lookup and the sending. Contract: docs/protocol-download.md §3.
//
// Order of checks, so every bad request gets one predictable status:
//   method (405, Allow: GET, HEAD) -> path syntax `/m/<id>` (400) -> ticket present (401,
//   WWW-Authenticate: Bearer) -> ticket verifies, is a download ticket, unexpired (403) ->
//   ticket's message id equals the path's (403) -> the stored file exists with the ticket's
//   size (404) -> Range/If-Range (206/416/200).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/ticket.h"
#include "servers/resource/http/core/parser.h"

namespace ferry::resource::http {

// What to write: `head` (status line + headers + blank line), then either `body` (small, for
// errors) or `length` bytes of the stored file from `offset`. `close` after it.
struct Response {
  int status = 200;
  std::string head;
  std::string body;
  uint64_t offset = 0;
  uint64_t length = 0;  // file bytes to send after head (0 for HEAD and errors)
  bool close = false;
};

// First step: either an immediate response, or a verified ticket whose file must be looked up.
struct Decision {
  bool lookup = false;  // true: look up `claims.sha256_hex`, then call respond_file
  proto::TicketClaims claims;
  Response response;  // when !lookup
};

Decision route(const Request& req, std::string_view key, int64_t now_ms);

// What the adapter found for the ticket's content hash.
struct FileInfo {
  bool found = false;
  uint64_t size = 0;
  int64_t mtime_s = 0;
};

Response respond_file(const Request& req, const proto::TicketClaims& claims, const FileInfo& file,
                      int64_t now_ms);

// An error response with a one-line text/plain body (none for HEAD) and a machine-readable
// `Ferry-Error: <code>` header (error_code() names the default code per status; 403s say
// which ticket check failed). `close` also when the request asked for it.
Response error_response(const Request* req, int status, const std::string& message, int64_t now_ms,
                        bool close = false, const char* code = nullptr);
// bad_request, no_ticket, not_found, method_not_allowed, target_too_long,
// range_not_satisfiable, headers_too_large, internal, not_implemented,
// version_not_supported; "forbidden" for a 403 without a more precise code.
const char* error_code(int status);

// Parses `/m/<id>` (decimal, no leading zeros, 1 .. 2^53-1, nothing after it but `?query`)
// and the ticket from the query parameter `t`, using http_parser_parse_url for the split.
// Returns false for any other target.
bool parse_target(std::string_view target, uint64_t& message_id, std::string& query_ticket);

const char* reason_phrase(int status);

}  // namespace ferry::resource::http
