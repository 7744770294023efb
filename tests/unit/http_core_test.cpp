// What: ferry-resd's sans-I/O HTTP core (servers/resource/http/core) against
// docs/protocol-download.md §3: request framing through http_parser (pipelining, HTTP/1.0,
// keep-alive, the 8 KiB target and 16 KiB header limits, Transfer-Encoding, bad versions,
// garbage), the routes' status codes in their documented order (405, 400 for odd paths, 401,
// 403 for forged/expired/upload/other-message tickets, 404, 416), Range (a-b, a-, -n, past the
// end, multi-range and invalid ranges served whole), If-Range by strong ETag and by date, the
// response headers, and Content-Disposition encoding of hostile names.
// How: raw request bytes fed to RequestParser, requests routed with a test key and a fixed
// clock, file lookups answered by hand. No sockets, no files, no clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "proto/ticket.h"
#include "servers/resource/http/core/headers.h"
#include "servers/resource/http/core/parser.h"
#include "servers/resource/http/core/range.h"
#include "servers/resource/http/core/router.h"
#include "servers/resource/store/file_lookup.h"

namespace ferry::resource::http {
namespace {

const std::string kKey(32, 'k');
const std::string kSha(64, 'e');
constexpr int64_t kNow = 1'780'000'000'000;  // 2026-05-28
using Kind = RangeResult::Kind;

std::string ticket(uint64_t message = 42, int64_t expires = kNow + 60'000,
                   proto::TicketKind kind = proto::TicketKind::Download,
                   const std::string& key = kKey) {
  proto::TicketClaims c;
  c.kind = kind;
  c.user_id = 2;
  c.message_id = message;
  c.size = 1000;
  c.sha256_hex = kSha;
  c.expires_ms = expires;
  c.name = "holiday.jpg";
  c.mime = "image/jpeg";
  return proto::ticket_sign(c, key);
}

std::vector<Request> parse_all(const std::string& bytes, RequestParser& p) {
  p.feed(bytes.data(), bytes.size());
  std::vector<Request> out;
  Request r;
  while (p.pop(r)) out.push_back(r);
  return out;
}

Request one(const std::string& bytes) {
  RequestParser p;
  auto v = parse_all(bytes, p);
  EXPECT_EQ(v.size(), 1u) << bytes;
  EXPECT_EQ(p.error_status(), 0) << bytes;
  return v.empty() ? Request{} : v[0];
}

std::string get(const std::string& target, const std::string& headers = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
}

// Routes a request all the way with a found 1000-byte file.
Response full(const Request& r, FileInfo f = {true, 1000, 1'700'000'000}) {
  Decision d = route(r, kKey, kNow);
  if (!d.lookup) return d.response;
  return respond_file(r, d.claims, f, kNow);
}
Response full(const std::string& bytes) { return full(one(bytes)); }

bool has(const Response& r, const std::string& header_line) {
  return r.head.find(header_line + "\r\n") != std::string::npos;
}

// ---- Range ---------------------------------------------------------------------------------

TEST(HttpRange, single_ranges) {
  RangeResult r = evaluate_range("bytes=0-499", 1000);
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 499u);
  r = evaluate_range("bytes=500-", 1000);
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.first, 500u);
  EXPECT_EQ(r.last, 999u);
  r = evaluate_range("bytes=-100", 1000);
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = evaluate_range("bytes=-5000", 1000);  // suffix longer than the file: all of it
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 999u);
  r = evaluate_range("bytes=900-5000", 1000);  // last clipped
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.last, 999u);
  r = evaluate_range("Bytes = 1-1 ", 1000);
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.first, 1u);
  EXPECT_EQ(r.last, 1u);
  r = evaluate_range("bytes=999-999", 1000);
  EXPECT_EQ(r.kind, Kind::Partial);
  r = evaluate_range("bytes=4294967296-", 5ull << 32);  // beyond 4 GiB
  EXPECT_EQ(r.kind, Kind::Partial);
  EXPECT_EQ(r.first, 4294967296u);
}

TEST(HttpRange, unsatisfiable) {
  EXPECT_EQ(evaluate_range("bytes=1000-", 1000).kind, Kind::Unsatisfiable);
  EXPECT_EQ(evaluate_range("bytes=1000-2000", 1000).kind, Kind::Unsatisfiable);
  EXPECT_EQ(evaluate_range("bytes=-0", 1000).kind, Kind::Unsatisfiable);
  EXPECT_EQ(evaluate_range("bytes=0-", 0).kind, Kind::Unsatisfiable);
  EXPECT_EQ(evaluate_range("bytes=-1", 0).kind, Kind::Unsatisfiable);
}

TEST(HttpRange, invalid_and_multi_are_whole) {
  for (const char* v :
       {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,2-3",
        "bytes=0-1, 5-", "bytes=1-2-3", "bytes=0x10-", "bytes=99999999999999999999-", "bytes=--1",
        "bytes=+1-2", "bytes 0-1", "bytes=0-1,"}) {
    EXPECT_EQ(evaluate_range(v, 1000).kind, Kind::Whole) << v;
  }
}

TEST(HttpRange, if_range) {
  std::string etag = "\"" + kSha + "\"";
  std::string lm = http_date(1'700'000'000);
  EXPECT_TRUE(if_range_matches(etag, etag, lm));
  EXPECT_TRUE(if_range_matches(" " + etag + " ", etag, lm));
  EXPECT_FALSE(if_range_matches("W/" + etag, etag, lm)) << "weak tags never match";
  EXPECT_FALSE(if_range_matches("\"" + std::string(64, 'f') + "\"", etag, lm));
  EXPECT_TRUE(if_range_matches(lm, etag, lm));
  EXPECT_FALSE(if_range_matches(http_date(1'700'000'001), etag, lm));
  EXPECT_FALSE(if_range_matches(lm, etag, ""));
  EXPECT_FALSE(if_range_matches("", etag, lm));
}

// ---- header values -------------------------------------------------------------------------

TEST(HttpHeaders, dates) {
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(http_date(4102444799), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(HttpHeaders, content_disposition_is_safe) {
  EXPECT_EQ(content_disposition("holiday.jpg"),
            "attachment; filename=\"holiday.jpg\"; filename*=UTF-8''holiday.jpg");
  EXPECT_EQ(content_disposition("a \"b\"\\c/../d%.txt"),
            "attachment; filename=\"a _b__c_.._d_.txt\"; "
            "filename*=UTF-8''a%20%22b%22%5Cc%2F..%2Fd%25.txt");
  // One `_` per character in the fallback; every UTF-8 byte percent-encoded in filename*.
  EXPECT_EQ(content_disposition("\xc3\xa9t\xc3\xa9 \xe2\x82\xac.png"),
            "attachment; filename=\"_t_ _.png\"; filename*=UTF-8''%C3%A9t%C3%A9%20%E2%82%AC.png");
  std::string evil = content_disposition("x\r\nSet-Cookie: a=b");
  EXPECT_EQ(evil.find('\r'), std::string::npos);
  EXPECT_EQ(evil.find('\n'), std::string::npos);
  EXPECT_EQ(content_disposition(""), content_disposition("download"));
  EXPECT_EQ(content_disposition("\xff"), "attachment; filename=\"_\"; filename*=UTF-8''%FF");
  EXPECT_EQ(header_safe("image/jpeg\r\nX: y"), "image/jpegX: y");
}

// ---- targets -------------------------------------------------------------------------------

TEST(HttpTarget, only_m_slash_canonical_id) {
  uint64_t id = 0;
  std::string t;
  ASSERT_TRUE(parse_target("/m/42?t=abc", id, t));
  EXPECT_EQ(id, 42u);
  EXPECT_EQ(t, "abc");
  ASSERT_TRUE(parse_target("/m/7?x=1&t=tk&t=other", id, t));
  EXPECT_EQ(t, "tk") << "first t wins, other parameters ignored";
  ASSERT_TRUE(parse_target("/m/9007199254740991", id, t));
  EXPECT_TRUE(t.empty());
  for (const char* bad : {"/m/042",
                          "/m/0",
                          "/m/",
                          "/m",
                          "/m/1/x",
                          "/m/1/",
                          "/m/../1",
                          "/m/1%2F..",
                          "/m/%31",
                          "/m/-1",
                          "/m/+1",
                          "/m/1.0",
                          "/m/9007199254740992",
                          "/m/99999999999999999999",
                          "/M/1",
                          "/files/aa/aaaa",
                          "/../etc/passwd",
                          "*",
                          "http://x/m/1",
                          "m/1",
                          "/m/1#frag",
                          "//m/1",
                          "/m//1",
                          "/m/1;x",
                          ""}) {
    EXPECT_FALSE(parse_target(bad, id, t)) << bad;
  }
}

// Only a verified ticket's hash names a file, and only in the content-addressed layout.
TEST(HttpTarget, stored_file_path_is_content_addressed) {
  EXPECT_EQ(stored_file_path("/d", kSha), "/d/files/ee/" + kSha);
  for (std::string bad : {std::string(63, 'e'), std::string(65, 'e'), std::string(64, 'E'),
                          "../" + std::string(61, 'e'), std::string(62, 'e') + "/x", std::string()}) {
    EXPECT_EQ(stored_file_path("/d", bad), "") << bad;
  }
}

// ---- parser --------------------------------------------------------------------------------

TEST(HttpParser, request_fields_and_headers) {
  Request r =
      one("GET /m/42?t=x HTTP/1.1\r\nHost: a\r\nrAnGe: bytes=1-2\r\n"
          "If-Range: \"x\"\r\nAuthorization: Bearer tk\r\nX-Other: 1\r\n\r\n");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/m/42?t=x");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(r.has_range);
  EXPECT_EQ(r.range, "bytes=1-2");
  EXPECT_EQ(r.if_range, "\"x\"");
  EXPECT_EQ(r.authorization, "Bearer tk");
  Request dup = one(get("/m/1", "Range: bytes=0-1\r\nRange: bytes=5-6\r\n"));
  EXPECT_EQ(dup.range, "bytes=0-1, bytes=5-6");
  EXPECT_EQ(evaluate_range(dup.range, 1000).kind, Kind::Whole) << "two ranges: whole file";
}

TEST(HttpParser, keep_alive_rules) {
  EXPECT_TRUE(one(get("/m/1")).keep_alive);
  EXPECT_FALSE(one(get("/m/1", "Connection: close\r\n")).keep_alive);
  EXPECT_FALSE(one("GET /m/1 HTTP/1.0\r\n\r\n").keep_alive);
  Request ka = one("GET /m/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(ka.keep_alive);
  EXPECT_EQ(ka.version_minor, 0u);
}

TEST(HttpParser, pipelined_requests_in_order_any_split) {
  std::string bytes;
  for (int i = 1; i <= 5; i++) bytes += get("/m/" + std::to_string(i));
  for (size_t step : {size_t(1), size_t(3), size_t(7), bytes.size()}) {
    RequestParser p;
    std::vector<Request> got;
    for (size_t at = 0; at < bytes.size(); at += step) {
      p.feed(bytes.data() + at, std::min(step, bytes.size() - at));
      Request r;
      while (p.pop(r)) got.push_back(r);
    }
    ASSERT_EQ(got.size(), 5u) << step;
    for (int i = 0; i < 5; i++) EXPECT_EQ(got[i].target, "/m/" + std::to_string(i + 1));
    EXPECT_TRUE(p.wants_input());
  }
}

TEST(HttpParser, pipelining_is_bounded_and_resumes) {
  std::string bytes;
  for (int i = 1; i <= 20; i++) bytes += get("/m/" + std::to_string(i));
  RequestParser p;
  p.feed(bytes.data(), bytes.size());
  EXPECT_EQ(p.queued(), kMaxQueued);
  EXPECT_FALSE(p.wants_input()) << "paused: the adapter stops reading";
  EXPECT_LE(p.held_bytes(), bytes.size());
  std::vector<std::string> targets;
  Request r;
  while (p.pop(r)) targets.push_back(r.target);
  ASSERT_EQ(targets.size(), 20u);
  EXPECT_EQ(targets.back(), "/m/20");
  EXPECT_TRUE(p.wants_input());
}

TEST(HttpParser, bodies_are_skipped) {
  RequestParser p;
  auto v = parse_all("POST /m/1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" + get("/m/2"), p);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].method, "POST");
  EXPECT_EQ(v[1].target, "/m/2");
}

TEST(HttpParser, limits_and_errors) {
  struct Case {
    std::string bytes;
    int status;
  };
  std::vector<Case> cases = {
      {get("/m/1?t=" + std::string(8 * 1024, 'a')), 414},
      {get("/m/1", "X-Big: " + std::string(17 * 1024, 'a') + "\r\n"), 431},
      {get("/m/1",
           [] {
             std::string h;
             for (int i = 0; i < 900; i++)
               h += "X-H" + std::to_string(i) + ": 0123456789abcdef\r\n";
             return h;
           }()),
       431},
      {"GET /m/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501},
      {"GET /m/1 HTTP/2.0\r\n\r\n", 505},
      {"GET /m/1 HTTP/1.2\r\n\r\n", 505},
      {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},  // a TLS ClientHello
      {"GET /m/1 HTTP/1.1\r\nBad Header\r\n\r\n", 400},
      {"GET /m/1\r\n\r\n", 505},  // HTTP/0.9 as http_parser reads it
      {"GET /m/1 FOO/1.1\r\n\r\n", 400},
      {"GET /m/1 HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
      {"GET /m/1 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET /m/\x01 HTTP/1.1\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    RequestParser p;
    auto v = parse_all(c.bytes, p);
    EXPECT_TRUE(v.empty()) << c.bytes.substr(0, 60);
    EXPECT_EQ(p.error_status(), c.status) << c.bytes.substr(0, 60);
    EXPECT_FALSE(p.wants_input());
    EXPECT_FALSE(p.error_message().empty());
    // The error response closes the connection.
    Response r = error_response(nullptr, p.error_status(), p.error_message(), kNow, true);
    EXPECT_TRUE(r.close);
    EXPECT_TRUE(has(r, "Connection: close"));
  }
}

TEST(HttpParser, requests_before_an_error_are_answered_first) {
  RequestParser p;
  std::string bytes = get("/m/1") + "garbage\r\n\r\n";
  p.feed(bytes.data(), bytes.size());
  EXPECT_EQ(p.error_status(), 0) << "the good request comes first";
  EXPECT_EQ(p.pending_error(), 400);
  Request r;
  ASSERT_TRUE(p.pop(r));
  EXPECT_EQ(r.target, "/m/1");
  EXPECT_EQ(p.error_status(), 400);
  p.feed("more", 4);  // ignored after the error
  EXPECT_FALSE(p.pop(r));
}

TEST(HttpParser, connect_and_upgrade_stop_the_stream) {
  RequestParser p;
  auto v = parse_all("CONNECT example.org:443 HTTP/1.1\r\n\r\n" + get("/m/1"), p);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].method, "CONNECT");
  EXPECT_TRUE(p.stopped());
  Response r = full(v[0]);
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(r.close);
  RequestParser q;
  v = parse_all(get("/m/1", "Connection: Upgrade\r\nUpgrade: websocket\r\n"), q);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].upgrade);
  EXPECT_TRUE(full(v[0]).close);
}

// ---- routes --------------------------------------------------------------------------------

TEST(HttpRoute, whole_file_with_every_header) {
  Response r = full(get("/m/42?t=" + ticket()));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 1000u);
  EXPECT_FALSE(r.close);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(has(r, "Content-Length: 1000"));
  EXPECT_TRUE(has(r, "Content-Type: image/jpeg"));
  EXPECT_TRUE(has(r,
                  "Content-Disposition: attachment; filename=\"holiday.jpg\"; "
                  "filename*=UTF-8''holiday.jpg"));
  EXPECT_TRUE(has(r, "ETag: \"" + kSha + "\""));
  EXPECT_TRUE(has(r, "Accept-Ranges: bytes"));
  EXPECT_TRUE(has(r, "Cache-Control: private, max-age=0"));
  EXPECT_TRUE(has(r, "Last-Modified: " + http_date(1'700'000'000)));
  EXPECT_TRUE(has(r, "Date: " + http_date(kNow / 1000)));
  EXPECT_EQ(r.head.substr(r.head.size() - 4), "\r\n\r\n");
  EXPECT_EQ(r.head.find("Connection:"), std::string::npos);
}

TEST(HttpRoute, head_is_get_without_body) {
  Response g = full(get("/m/42?t=" + ticket()));
  Response h = full("HEAD /m/42?t=" + ticket() + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.head, g.head);
  EXPECT_EQ(h.length, 0u);
  Response e = full("HEAD /m/42 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(e.status, 401);
  EXPECT_TRUE(e.body.empty());
  EXPECT_NE(e.head.find("Content-Length: "), std::string::npos);
}

TEST(HttpRoute, ranges) {
  std::string t = "/m/42?t=" + ticket();
  Response r = full(get(t, "Range: bytes=100-199\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.offset, 100u);
  EXPECT_EQ(r.length, 100u);
  EXPECT_TRUE(has(r, "Content-Range: bytes 100-199/1000"));
  EXPECT_TRUE(has(r, "Content-Length: 100"));
  r = full(get(t, "Range: bytes=-10\r\n"));
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.offset, 990u);
  EXPECT_TRUE(has(r, "Content-Range: bytes 990-999/1000"));
  r = full(get(t, "Range: bytes=990-\r\n"));
  EXPECT_TRUE(has(r, "Content-Range: bytes 990-999/1000"));
  r = full(get(t, "Range: bytes=1000-\r\n"));
  EXPECT_EQ(r.status, 416);
  EXPECT_TRUE(has(r, "Content-Range: bytes */1000"));
  EXPECT_EQ(r.length, 0u);
  EXPECT_FALSE(r.close) << "416 keeps the connection";
  r = full(get(t, "Range: bytes=0-1,5-9\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.length, 1000u);
  r = full(get(t, "Range: pages=1-2\r\n"));
  EXPECT_EQ(r.status, 200);
  // An empty file: 200 with nothing, any range is 416.
  r = full(one(get(t)), {true, 0, 0});
  EXPECT_EQ(r.status, 500) << "size differs from the ticket's";
}

TEST(HttpRoute, if_range) {
  std::string t = "/m/42?t=" + ticket();
  std::string etag = "\"" + kSha + "\"";
  Response r = full(get(t, "Range: bytes=10-19\r\nIf-Range: " + etag + "\r\n"));
  EXPECT_EQ(r.status, 206);
  r = full(get(t, "Range: bytes=10-19\r\nIf-Range: \"other\"\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.length, 1000u);
  r = full(get(t, "Range: bytes=10-19\r\nIf-Range: W/" + etag + "\r\n"));
  EXPECT_EQ(r.status, 200);
  r = full(get(t, "Range: bytes=10-19\r\nIf-Range: " + http_date(1'700'000'000) + "\r\n"));
  EXPECT_EQ(r.status, 206);
  r = full(get(t, "Range: bytes=10-19\r\nIf-Range: " + http_date(1'600'000'000) + "\r\n"));
  EXPECT_EQ(r.status, 200);
  r = full(get(t, "Range: bytes=5000-\r\nIf-Range: \"other\"\r\n"));
  EXPECT_EQ(r.status, 200) << "a failed If-Range ignores even an unsatisfiable Range";
}

TEST(HttpRoute, status_codes_in_order) {
  struct Case {
    std::string request;
    int status;
  };
  std::string good = ticket();
  std::vector<Case> cases = {
      {"POST /m/42?t=" + good + " HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
      {"DELETE /m/042 HTTP/1.1\r\n\r\n", 405},
      {"OPTIONS * HTTP/1.1\r\n\r\n", 405},
      {get("/m/042?t=" + good), 400},
      {get("/m/42/x?t=" + good), 400},
      {get("/m/../42?t=" + good), 400},
      {get("/m/4%32?t=" + good), 400},
      {get("/m/42%2F..%2F..?t=" + good), 400},
      {get("/files/ee/" + kSha), 400},
      {get("/m/42"), 401},
      {get("/m/42?t="), 401},
      {get("/m/42?tt=" + good), 401},
      {get("/m/42", "Authorization: Basic dXNlcjpwYXNz\r\n"), 401},
      {get("/m/42?t=garbage"), 403},
      {get("/m/42?t=" + ticket(42, kNow)), 403},                                 // expired
      {get("/m/42?t=" + ticket(42, kNow + 1, proto::TicketKind::Upload)), 403},  // upload ticket
      {get("/m/42?t=" + ticket(42, kNow + 1, proto::TicketKind::Download, "other key")), 403},
      {get("/m/43?t=" + good), 403},                                    // for another message
      {get("/m/42?t=" + good.substr(0, good.size() - 2) + "AA"), 403},  // tampered MAC
      {get("/m/42?t=" + good), 200},
  };
  for (const Case& c : cases) {
    Response r = full(one(c.request));
    EXPECT_EQ(r.status, c.status) << c.request.substr(0, 80) << "\n" << r.head << r.body;
    if (r.status >= 400) {
      EXPECT_TRUE(has(r, "Content-Type: text/plain; charset=utf-8"));
      EXPECT_EQ(r.body.back(), '\n');
      EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 1) << "one line";
      EXPECT_EQ(r.length, 0u);
    }
    if (r.status == 401) {
      EXPECT_NE(r.head.find("WWW-Authenticate: Bearer"), std::string::npos);
    }
    if (r.status == 405) {
      EXPECT_TRUE(has(r, "Allow: GET, HEAD"));
    }
  }
}

TEST(HttpRoute, ferry_error_codes_tell_why) {
  struct Case {
    std::string request;
    const char* code;
  };
  std::vector<Case> cases = {
      {get("/m/42"), "no_ticket"},
      {get("/m/042"), "bad_request"},
      {"PUT /m/42 HTTP/1.1\r\n\r\n", "method_not_allowed"},
      {get("/m/42?t=garbage"), "ticket_malformed"},
      {get("/m/42?t=" + ticket(42, kNow)), "ticket_expired"},
      {get("/m/42?t=" + ticket(42, kNow + 1, proto::TicketKind::Download, "other")),
       "ticket_forged"},
      {get("/m/42?t=" + ticket(42, kNow + 1, proto::TicketKind::Upload)), "ticket_wrong_kind"},
      {get("/m/41?t=" + ticket()), "ticket_other_message"},
      {get("/m/42?t=" + ticket(), "Range: bytes=2000-\r\n"), "range_not_satisfiable"},
  };
  for (const Case& c : cases) {
    Response r = full(one(c.request));
    EXPECT_TRUE(has(r, std::string("Ferry-Error: ") + c.code)) << c.request << r.head;
  }
  EXPECT_TRUE(has(full(one(get("/m/42?t=" + ticket())), {false, 0, 0}), "Ferry-Error: not_found"));
  EXPECT_EQ(full(get("/m/42?t=" + ticket())).head.find("Ferry-Error"), std::string::npos);
  EXPECT_TRUE(has(error_response(nullptr, 431, "x", kNow, true), "Ferry-Error: headers_too_large"));
  EXPECT_TRUE(has(error_response(nullptr, 414, "x", kNow, true), "Ferry-Error: target_too_long"));
}

TEST(HttpRoute, bearer_header_wins_over_query) {
  Response r = full(get("/m/42?t=garbage", "Authorization: Bearer " + ticket() + "\r\n"));
  EXPECT_EQ(r.status, 200);
  r = full(get("/m/42?t=" + ticket(), "Authorization: Bearer garbage\r\n"));
  EXPECT_EQ(r.status, 403);
  r = full(get("/m/42", "authorization: bEaReR  " + ticket() + " \r\n"));
  EXPECT_EQ(r.status, 200);
  r = full(get("/m/42?t=" + ticket(), "Authorization: Basic abc\r\n"));
  EXPECT_EQ(r.status, 200) << "a non-Bearer Authorization is not a ticket";
}

TEST(HttpRoute, missing_file_is_404_and_errors_keep_alive) {
  Request req = one(get("/m/42?t=" + ticket()));
  Response r = full(req, {false, 0, 0});
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.close);
  r = full(one(get("/m/42?t=" + ticket(), "Connection: close\r\n")), {false, 0, 0});
  EXPECT_TRUE(r.close);
  EXPECT_TRUE(has(r, "Connection: close"));
}

TEST(HttpRoute, http10_keep_alive_is_confirmed) {
  Response r = full(one("GET /m/42?t=" + ticket() + " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.close);
  EXPECT_TRUE(has(r, "Connection: keep-alive"));
  r = full(one("GET /m/42?t=" + ticket() + " HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(r.close);
  EXPECT_TRUE(has(r, "Connection: close"));
  EXPECT_EQ(r.head.rfind("HTTP/1.1 200", 0), 0u);
}

TEST(HttpRoute, very_long_but_legal_target) {
  // A target just under 8 KiB parses; its path is still wrong.
  std::string target = "/m/42?t=" + ticket() + "&pad=";
  target += std::string(kMaxTargetBytes - target.size(), 'p');
  Request r = one(get(target));
  EXPECT_EQ(r.target.size(), kMaxTargetBytes);
  EXPECT_EQ(full(r).status, 200) << "other query parameters are ignored";
}

}  // namespace
}  // namespace ferry::resource::http
