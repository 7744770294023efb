// RequestParser: HTTP/1.x request framing for ferry-resd's download listener, on top of
// Debian's http_parser (libhttp-parser-dev) — the request line, headers, chunked or
// Content-Length bodies, keep-alive rules and pipelining are the library's; this class only
// keeps what the download routes need and enforces ferry's limits.
//
// Feed bytes in arrival order (any split); complete requests queue up in order (pipelining).
// At most kMaxQueued requests wait: the parser then pauses and keeps the unparsed rest of the
// last feed (at most one read's worth) until pop() makes room, and wants_input() turns false
// so the adapter stops reading. A framing error ends the stream: error_status() says what to
// answer (after the requests queued before it) and nothing more is parsed.
//
// Limits (docs/protocol-download.md §3): request target over 8 KiB -> 414; header fields and
// values together over 16 KiB -> 431; an HTTP version other than 1.0/1.1 -> 505; a request with
// Transfer-Encoding -> 501; anything the library refuses -> 400. Bodies (Content-Length) are
// skipped without being stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::resource::http {

inline constexpr size_t kMaxTargetBytes = 8 * 1024;
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr size_t kMaxQueued = 8;

struct Request {
  std::string method;  // "GET", "HEAD", ... as http_parser names it
  std::string target;  // the request target, as sent
  unsigned version_major = 1;
  unsigned version_minor = 1;
  bool keep_alive = true;  // http_should_keep_alive: version default and Connection header
  // The headers the routes read (names compared case-insensitively; repeated fields are
  // joined with ", " as RFC 9110 §5.3 allows).
  bool has_authorization = false;
  std::string authorization;
  bool has_range = false;
  std::string range;
  bool has_if_range = false;
  std::string if_range;
  bool upgrade = false;  // CONNECT or Upgrade: the library stops parsing after it
};

class RequestParser {
 public:
  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes `len` bytes (all of them: what cannot be parsed yet is kept).
  void feed(const char* data, size_t len);
  // The oldest complete request, if any. Popping resumes a paused parser.
  bool pop(Request& out);
  size_t queued() const { return queue_.size(); }
  // False once paused with input held, failed, or after an upgrade: stop reading the socket.
  bool wants_input() const;
  // Non-zero once the stream is broken: the status to answer (400/414/431/501/505) once the
  // queued requests are answered; then close.
  int error_status() const { return queue_.empty() ? error_status_ : 0; }
  int pending_error() const { return error_status_; }
  // True once nothing more will be parsed (an error, or after CONNECT/Upgrade): when the queue
  // is empty too, answer error_status() if set and close.
  bool stopped() const { return stopped_; }
  const std::string& error_message() const { return error_message_; }
  // Bytes of held input (for tests: bounded by one feed).
  size_t held_bytes() const { return held_.size(); }

 private:
  struct Impl;
  void run(const char* data, size_t len);
  void fail(int status, std::string message);

  std::unique_ptr<Impl> impl_;
  std::deque<Request> queue_;
  std::string held_;      // unparsed input while paused
  bool stopped_ = false;  // failed or upgraded: nothing more is parsed
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace ferry::resource::http
