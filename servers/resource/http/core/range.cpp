// Range / If-Range evaluation (see range.h).
#include "servers/resource/http/core/range.h"

#include <optional>

#include "servers/resource/http/core/headers.h"

namespace ferry::resource::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// 1*DIGIT without overflow; nullopt for anything else.
std::optional<uint64_t> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

}  // namespace

RangeResult evaluate_range(std::string_view value, uint64_t size) {
  RangeResult whole;  // Kind::Whole
  size_t eq = value.find('=');
  if (eq == std::string_view::npos || !ascii_iequals(trim(value.substr(0, eq)), "bytes")) return whole;
  std::string_view spec = value.substr(eq + 1);
  // Several ranges (a comma) are served whole, as RFC 9110 §14.2 allows; so are empty list
  // elements, which a valid single range never has.
  if (spec.find(',') != std::string_view::npos) return whole;
  spec = trim(spec);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  RangeResult r;
  if (a.empty()) {  // suffix: the last n bytes
    std::optional<uint64_t> n = number(b);
    if (!n) return whole;
    if (*n == 0 || size == 0) {
      r.kind = RangeResult::Kind::Unsatisfiable;
      return r;
    }
    r.kind = RangeResult::Kind::Partial;
    r.first = *n >= size ? 0 : size - *n;
    r.last = size - 1;
    return r;
  }
  std::optional<uint64_t> first = number(a);
  if (!first) return whole;
  std::optional<uint64_t> last;
  if (!b.empty()) {
    last = number(b);
    if (!last || *last < *first) return whole;  // syntactically invalid: ignored
  }
  if (*first >= size) {
    r.kind = RangeResult::Kind::Unsatisfiable;
    return r;
  }
  r.kind = RangeResult::Kind::Partial;
  r.first = *first;
  r.last = last && *last < size ? *last : size - 1;
  return r;
}

bool if_range_matches(std::string_view if_range, std::string_view etag,
                      std::string_view last_modified) {
  std::string_view v = trim(if_range);
  if (v.empty()) return false;
  if (v.front() == '"' || v.substr(0, 2) == "W/") return v == etag;  // W/ never equals a strong tag
  return !last_modified.empty() && v == last_modified;
}

}  // namespace ferry::resource::http
