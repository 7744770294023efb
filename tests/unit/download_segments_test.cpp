// Proves the sans-I/O rules of split downloads (sdk/core/download_segments.h):
//  - when to split: only on a long path (the first request's round trip), more segments on a
//    very long one, never into segments smaller than the minimum, the test hook's count;
//  - where: the running transfer keeps the first part with what it holds, the rest is cut
//    into equal parts that cover the file exactly;
//  - the record: what it encodes decodes to the same segments, and a record that is damaged,
//    for another size, with gaps or overlaps, or claiming more than a segment holds is
//    refused with a reason (the adapter then starts the file over).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sdk/core/download_segments.h"

namespace ferry::sdk {
namespace {

constexpr uint64_t kMiB = 1u << 20;

TEST(DownloadSegments, splits_only_on_a_long_path_and_only_into_big_enough_parts) {
  SegmentPolicy p;
  EXPECT_EQ(segments_for(p, 100, 64 * kMiB, 0), 1u);            // loopback
  EXPECT_EQ(segments_for(p, 9999, 64 * kMiB, 0), 1u);           // just short
  EXPECT_EQ(segments_for(p, 10000, 64 * kMiB, 0), 4u);          // 20 ms round trip
  EXPECT_EQ(segments_for(p, 40000, 64 * kMiB, 0), 8u);          // 40 ms
  EXPECT_EQ(segments_for(p, 40000, 12 * kMiB, 0), 3u);          // 4 MiB each at least
  EXPECT_EQ(segments_for(p, 40000, 7 * kMiB, 0), 1u);           // too little to split
  EXPECT_EQ(segments_for(p, 0, 64 * kMiB, 4), 4u);              // the hook, on loopback
  EXPECT_EQ(segments_for(p, 40000, 64 * kMiB, 1), 1u);          // the hook says never
  EXPECT_EQ(segments_for(p, 0, 8 * kMiB, 16), 2u);              // the hook within the minimum
}

TEST(DownloadSegments, the_running_transfer_keeps_the_first_part_and_the_rest_is_cut_evenly) {
  const uint64_t size = 64 * kMiB + 3;
  const uint64_t pos = 5 * kMiB;
  std::vector<Segment> s = split_segments(size, pos, 4);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].start, 0u);
  EXPECT_EQ(s[0].done, pos);
  EXPECT_EQ(segments_held(s), pos);
  uint64_t at = 0;
  for (size_t i = 0; i < s.size(); i++) {
    EXPECT_EQ(s[i].start, at) << i;
    EXPECT_GT(s[i].end, s[i].start) << i;
    if (i > 0) {
      EXPECT_EQ(s[i].done, 0u) << i;
    }
    at = s[i].end;
  }
  EXPECT_EQ(at, size);
  // The parts after the running transfer's position differ by one byte at most.
  uint64_t first = s[0].end - pos;
  for (size_t i = 1; i < s.size(); i++) {
    uint64_t len = s[i].end - s[i].start;
    EXPECT_LE(first > len ? first - len : len - first, 1u) << i;
  }
  EXPECT_FALSE(s[0].complete());
  s[0].done = s[0].end;
  EXPECT_TRUE(s[0].complete());
  EXPECT_EQ(s[0].next(), s[0].end);
}

TEST(DownloadSegments, a_record_decodes_to_what_was_encoded) {
  const uint64_t size = 100 * kMiB + 17;
  std::vector<Segment> s = split_segments(size, 3 * kMiB, 8);
  s[3].done = 1234;
  s[7].done = s[7].end - s[7].start;
  std::string text = encode_segments(size, s);
  std::vector<Segment> back;
  std::string why;
  ASSERT_TRUE(decode_segments(text, size, back, why)) << why;
  ASSERT_EQ(back.size(), s.size());
  for (size_t i = 0; i < s.size(); i++) {
    EXPECT_EQ(back[i].start, s[i].start);
    EXPECT_EQ(back[i].end, s[i].end);
    EXPECT_EQ(back[i].done, s[i].done);
  }
  EXPECT_EQ(segments_held(back), segments_held(s));
}

TEST(DownloadSegments, a_damaged_or_foreign_record_is_refused_with_a_reason) {
  const uint64_t size = 1000;
  auto refused = [&](const std::string& text) {
    std::vector<Segment> s;
    std::string why;
    bool ok = decode_segments(text, size, s, why);
    EXPECT_FALSE(ok) << text;
    EXPECT_FALSE(why.empty()) << text;
    EXPECT_TRUE(s.empty()) << text;  // nothing half-decoded for the caller to trust
    return !ok;
  };
  std::vector<Segment> s;
  std::string why;
  ASSERT_TRUE(decode_segments("ferry-segments 1 1000\n0 400 10\n400 1000 600\n", size, s, why))
      << why;
  EXPECT_EQ(segments_held(s), 610u);
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("ferry-segments 1 1000"));                            // no newline
  EXPECT_TRUE(refused("ferry-segments 2 1000\n0 1000 0\n"));                // other version
  EXPECT_TRUE(refused("ferry-segments 1 999\n0 999 0\n"));                  // another size
  EXPECT_TRUE(refused("ferry-segments 1 1000\n"));                          // no segments
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 400 0\n"));                 // ends short
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 400 0\n500 1000 0\n"));     // a gap
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 600 0\n400 1000 0\n"));     // an overlap
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 400 401\n400 1000 0\n"));   // done > length
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 1200 0\n"));                // past the end
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 400 0\n400 1000 0"));       // cut off
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 400 x\n400 1000 0\n"));     // not a number
  EXPECT_TRUE(refused("ferry-segments 1 1000\n0 400 0 9\n400 1000 0\n"));   // extra field
  EXPECT_TRUE(refused("ferry-segments 1 1000\n400 400 0\n0 1000 0\n"));     // empty, out of order
}

}  // namespace
}  // namespace ferry::sdk
