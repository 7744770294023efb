#include "sdk/core/download_segments.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace ferry::sdk {

uint32_t segments_for(const SegmentPolicy& p, uint64_t rtt_us, uint64_t remaining,
                      uint32_t forced) {
  uint32_t want = 1;
  if (forced > 0) {
    want = forced;
  } else if (rtt_us >= p.very_long_path_us) {
    want = p.very_long_path_segments;
  } else if (rtt_us >= p.long_path_us) {
    want = p.segments;
  }
  // Each segment costs a connection and its slow start: only where each gets enough to do.
  uint64_t fit = p.min_segment == 0 ? want : remaining / p.min_segment;
  return static_cast<uint32_t>(std::max<uint64_t>(1, std::min<uint64_t>(want, fit)));
}

std::vector<Segment> split_segments(uint64_t size, uint64_t pos, uint32_t n) {
  std::vector<Segment> segs;
  uint64_t rest = size - pos;
  uint64_t at = pos;
  for (uint32_t i = 0; i < n; i++) {
    // The first parts take the remainder's extra bytes, one each.
    uint64_t len = rest / n + (i < rest % n ? 1 : 0);
    Segment s;
    s.start = i == 0 ? 0 : at;
    s.end = at + len;
    s.done = i == 0 ? pos : 0;
    segs.push_back(s);
    at += len;
  }
  return segs;
}

uint64_t segments_held(const std::vector<Segment>& segs) {
  uint64_t held = 0;
  for (const Segment& s : segs) held += std::min(s.done, s.end - s.start);
  return held;
}

std::string encode_segments(uint64_t size, const std::vector<Segment>& segs) {
  std::string out = "ferry-segments 1 " + std::to_string(size) + "\n";
  for (const Segment& s : segs) {
    out += std::to_string(s.start) + " " + std::to_string(s.end) + " " + std::to_string(s.done) +
           "\n";
  }
  return out;
}

namespace {

bool decode_into(std::string_view text, uint64_t size, std::vector<Segment>& segs,
                 std::string& why) {
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) {
    why = "no header line";
    return false;
  }
  std::string head(text.substr(0, nl));
  uint64_t recorded = 0;
  int version = 0;
  char tail = 0;
  if (std::sscanf(head.c_str(), "ferry-segments %d %" SCNu64 "%c", &version, &recorded, &tail) !=
          2 ||
      version != 1) {
    why = "not a version 1 record";
    return false;
  }
  if (recorded != size) {
    why = "the record is for " + std::to_string(recorded) + " bytes, the file has " +
          std::to_string(size);
    return false;
  }
  text.remove_prefix(nl + 1);
  uint64_t expect = 0;
  while (!text.empty()) {
    nl = text.find('\n');
    if (nl == std::string_view::npos) {
      why = "a cut-off line";  // written by rename, so this is damage, not a crash
      return false;
    }
    std::string line(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    Segment s;
    if (std::sscanf(line.c_str(), "%" SCNu64 " %" SCNu64 " %" SCNu64 "%c", &s.start, &s.end,
                    &s.done, &tail) != 3) {
      why = "a malformed line '" + line + "'";
      return false;
    }
    if (s.start != expect || s.end <= s.start || s.end > size || s.done > s.end - s.start) {
      why = "segment '" + line + "' does not follow on from byte " + std::to_string(expect);
      return false;
    }
    expect = s.end;
    segs.push_back(s);
  }
  if (segs.empty() || expect != size) {
    why = "the segments end at byte " + std::to_string(expect) + " of " + std::to_string(size);
    return false;
  }
  return true;
}

}  // namespace

bool decode_segments(std::string_view text, uint64_t size, std::vector<Segment>& segs,
                     std::string& why) {
  segs.clear();
  if (decode_into(text, size, segs, why)) return true;
  segs.clear();
  return false;
}

}  // namespace ferry::sdk
