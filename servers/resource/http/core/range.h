// Range and If-Range semantics of RFC 9110 §14 for one stored file, as ferry-resd serves
// them (docs/protocol-download.md §3): single ranges only; a multi-range request or an
// invalid Range header is answered with the whole file (both allowed by the RFC); an
// unsatisfiable single range is 416. Pure functions over header values; the request line and
// header framing are parsed by http_parser (parser.h), never here.
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::resource::http {

struct RangeResult {
  enum class Kind {
    Whole,          // no Range, an invalid one, or several ranges: 200 with the whole file
    Partial,        // 206 bytes first..last (inclusive)
    Unsatisfiable,  // 416 with Content-Range: bytes */size
  };
  Kind kind = Kind::Whole;
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

// Evaluates a Range header value against a file of `size` bytes. `bytes=a-b`, `bytes=a-` and
// `bytes=-n` (suffix); whitespace around the range is tolerated, the unit is case-insensitive.
// `b` past the end is clipped; `a` at or past the end, or a suffix of 0, is unsatisfiable.
// Numbers that overflow 64 bits make the header invalid (ignored).
RangeResult evaluate_range(std::string_view value, uint64_t size);

// If-Range (RFC 9110 §13.1.5): true when the Range may be honoured. Honoured only for an exact
// strong match: the ETag `"<sha256>"` (never a weak W/ tag), or the exact Last-Modified text
// (`last_modified`, empty when the server sends none).
bool if_range_matches(std::string_view if_range, std::string_view etag,
                      std::string_view last_modified);

}  // namespace ferry::resource::http
