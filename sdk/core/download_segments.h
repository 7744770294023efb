// A download fetched as several byte ranges at once, each over its own connection (issue 7
// section 2: one TCP stream is capped by loss and round trip time; downloads use several
// ranged requests the way uploads use several lanes). Sans-I/O: when to split, where, and
// the little record that makes a split download resumable. The adapter (download_io.cpp)
// does the requests and the files.
//
// Layout on disk: the partial file holds every segment's bytes at their own offsets, so a
// finished download needs no assembly. Bytes written out of order leave holes, and the
// partial's size no longer says what is held; so before the first ranged request of a split
// starts, the adapter writes "<partial>.segs" (encode_segments), and while that file exists
// it, not the partial's size, says what is held: for each segment [start, end) its first
// `done` bytes. It is rewritten as the segments advance and removed once all are complete;
// a record that lags the file only costs bytes fetched twice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::sdk {

struct Segment {
  uint64_t start = 0;  // [start, end) of the file
  uint64_t end = 0;
  uint64_t done = 0;  // bytes from `start` on disk
  uint64_t next() const { return start + done; }
  bool complete() const { return start + done >= end; }
};

struct SegmentPolicy {
  uint64_t long_path_us = 10000;       // the first request's round trip at which to split
  uint64_t very_long_path_us = 25000;  // ... and at which to use more segments
  uint32_t segments = 4;
  uint32_t very_long_path_segments = 8;
  uint64_t min_segment = 4u << 20;  // never a segment smaller than this
  // A connection whose segment is done takes half of the largest remainder, when that
  // half is at least this much.
  uint64_t min_steal = 1u << 20;
};

// How many segments the rest of a file should be fetched as, from the first request's
// round trip (request sent to first byte) and the bytes still to fetch: 1 = do not split.
// `forced` (the FERRY_DOWNLOAD_SEGMENTS test hook; 0 = none) replaces the round-trip rule.
uint32_t segments_for(const SegmentPolicy& p, uint64_t rtt_us, uint64_t remaining,
                      uint32_t forced);

// Splits a file of `size` bytes whose running transfer (from 0 or a resume) is at `pos`:
// segment 0 is [0, first cut) with `pos` bytes done (the running transfer goes on into it),
// the rest of [pos, size) is cut into equal parts, none done. n >= 2 and pos < size.
std::vector<Segment> split_segments(uint64_t size, uint64_t pos, uint32_t n);

// Bytes held: the sum of every segment's done.
uint64_t segments_held(const std::vector<Segment>& segs);

// The record: "ferry-segments 1 <size>\n" then "<start> <end> <done>\n" per segment.
std::string encode_segments(uint64_t size, const std::vector<Segment>& segs);
// False (with `why`) unless it is a record for a file of `size` bytes whose segments cover
// [0, size) in order without gaps, each with done <= its length (`segs` is then empty).
bool decode_segments(std::string_view text, uint64_t size, std::vector<Segment>& segs,
                     std::string& why);

}  // namespace ferry::sdk
