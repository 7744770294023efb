// The HTTP decisions of a resumable download, as pure functions (sans-I/O): where to start
// given the partial file on disk, and what an HTTP answer means for the bytes already there.
// The libuv/libcurl adapter (sdk/uv/download_io.*) asks these at the two points where it
// must decide, so the rules (RFC 9110 ranges, docs/protocol-download.md section 3) are
// unit-tested without sockets or files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::sdk {

// Where a fetch starts, from the partial file's size.
struct ResumePlan {
  enum class Action {
    Fetch,     // GET from `offset` (0: whole file, no Range header)
    Truncate,  // the partial is longer than the file: empty it, then GET from 0
    Verify,    // the partial already holds `size` bytes: no request, check the hash
  };
  Action action = Action::Fetch;
  uint64_t offset = 0;
  // Request headers for offset > 0: "Range: bytes=N-" and "If-Range: \"<sha256>\"" (strong
  // ETag), so a server that holds different content answers 200 with the whole file rather
  // than a range of something else.
  std::string range;     // "bytes=N-" or ""
  std::string if_range;  // "\"<sha256>\"" or ""
};
// An empty sha256 means size and hash are not known yet (fetch from the partial's end).
ResumePlan plan_resume(uint64_t partial_size, uint64_t size, const std::string& sha256);

// What an HTTP status line and its headers mean, decided when the body starts (or the
// answer ends without one).
struct ResponsePlan {
  enum class Action {
    Append,      // 206 at the asked offset: write the body from `offset`
    Restart,     // 200: the whole file follows; truncate and write from 0
    Complete,    // 416 while the partial already holds the whole file: verify it
    StartOver,   // 416 otherwise, or a 206 at another offset: empty the partial, retry
    RefreshUrl,  // 401/403: the ticket expired or was refused; ask the chat server again
    Fail,        // 404 (no such stored file) or another answer that retrying cannot fix
    Retry,       // 5xx, 408, 429: retry later from the bytes on disk
  };
  Action action = Action::Retry;
  uint64_t offset = 0;  // Append: where the body goes
  int err = 0;          // ferry_err for Fail/Retry/RefreshUrl
  std::string detail;
};
// status: the HTTP status; content_range: the Content-Range header's value ("" if none);
// requested: the offset asked for (0 = no Range); partial_size: bytes on disk; size: the
// file's size from the chat server (0 unknown).
ResponsePlan plan_response(long status, std::string_view content_range, uint64_t requested,
                           uint64_t partial_size, uint64_t size);

// "bytes a-b/size" -> a, b, size ("*" size -> 0). False when malformed.
bool parse_content_range(std::string_view v, uint64_t& first, uint64_t& last, uint64_t& size);

// After the whole file is on disk: its SHA-256 (64 hex, any case) against the message's.
enum class VerifyOutcome { Commit, Mismatch };
VerifyOutcome plan_verify(const std::string& actual_sha256, const std::string& expected_sha256);

}  // namespace ferry::sdk
