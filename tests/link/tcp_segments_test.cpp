// ferry-link's TCP offload path (harness/link/core/tcp_segments.h): super-packets cut into
// wire segments and joined back, with the headers and checksums the kernel expects.
#include "harness/link/core/tcp_segments.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ferry::link {
namespace {

using Bytes = std::vector<uint8_t>;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (; n >= 2; p += 2, n -= 2) s += be16(p);
  if (n) s += uint32_t(p[0]) << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s;
}

// An IPv4 TCP packet 198.18.0.2:40000 -> 198.18.0.1:7421 with a 12-byte timestamp option.
Bytes tcp_packet(uint32_t seq, size_t payload, uint8_t flags, uint8_t fill = 0) {
  Bytes p(20 + 32 + payload);
  p[0] = 0x45;
  p[2] = uint8_t(p.size() >> 8);
  p[3] = uint8_t(p.size());
  p[4] = 0x12;
  p[5] = 0x34;
  p[6] = 0x40;  // DF
  p[8] = 64;
  p[9] = 6;
  const uint8_t addrs[8] = {198, 18, 0, 2, 198, 18, 0, 1};
  std::memcpy(p.data() + 12, addrs, 8);
  uint8_t* t = p.data() + 20;
  t[0] = 0x9c;  // 40000
  t[1] = 0x40;
  t[2] = 0x1c;  // 7421
  t[3] = 0xfd;
  t[4] = uint8_t(seq >> 24);
  t[5] = uint8_t(seq >> 16);
  t[6] = uint8_t(seq >> 8);
  t[7] = uint8_t(seq);
  t[8] = 0xaa;  // ack
  t[12] = 8 << 4;
  t[13] = flags;
  t[14] = 0x01;  // window
  const uint8_t opts[12] = {1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9};
  std::memcpy(t + 20, opts, 12);
  for (size_t i = 0; i < payload; i++) t[32 + i] = uint8_t(fill + i * 7);
  return p;
}

// The kernel completes a partial TCP checksum over the segment from csum_start; the result
// must then verify over the pseudo-header as any received segment does.
void expect_valid(const uint8_t* p, size_t len) {
  ASSERT_EQ(ones_sum(p, 20), 0xffffu) << "IP header checksum";
  ASSERT_EQ(be16(p + 2), len);
  Bytes c(p, p + len);
  uint16_t done = uint16_t(~ones_sum(c.data() + 20, len - 20));
  c[20 + 16] = uint8_t(done >> 8);
  c[20 + 17] = uint8_t(done);
  uint32_t pseudo = ones_sum(c.data() + 12, 8, 6 + uint32_t(len - 20));
  EXPECT_EQ(ones_sum(c.data() + 20, len - 20, pseudo), 0xffffu) << "TCP checksum";
}

std::vector<Bytes> split(const Bytes& p, uint16_t mss) {
  std::vector<Bytes> out;
  EXPECT_TRUE(split_tcp4(p.data(), p.size(), mss,
                         [&](const uint8_t* s, size_t n) { out.emplace_back(s, s + n); }));
  return out;
}

TEST(TcpSegments, a_super_packet_becomes_wire_segments) {
  const uint8_t kAckPsh = 0x18, kCwrAck = 0x90;
  Bytes super = tcp_packet(1000, 3 * 1448 + 100, kAckPsh | kCwrAck, 3);
  std::vector<Bytes> segs = split(super, 1448);
  ASSERT_EQ(segs.size(), 4u);
  size_t off = 0;
  for (size_t i = 0; i < segs.size(); i++) {
    SCOPED_TRACE(i);
    const Bytes& s = segs[i];
    size_t n = i < 3 ? 1448 : 100;
    ASSERT_EQ(s.size(), 52 + n);
    expect_valid(s.data(), s.size());
    EXPECT_EQ(be32(s.data() + 24), 1000 + off) << "sequence number";
    EXPECT_EQ(be16(s.data() + 4), 0x1234 + i) << "IP id";
    uint8_t f = s[33];
    EXPECT_EQ((f & 0x08) != 0, i == 3) << "PSH on the last only";
    EXPECT_EQ((f & 0x80) != 0, i == 0) << "CWR on the first only";
    EXPECT_EQ(std::memcmp(s.data() + 52, super.data() + 52 + off, n), 0) << "payload";
    off += n;
  }
}

TEST(TcpSegments, small_or_foreign_packets_pass_whole) {
  Bytes ack = tcp_packet(5, 0, 0x10);
  EXPECT_EQ(split(ack, 1448).size(), 1u);
  Bytes udp = ack;
  udp[9] = 17;
  EXPECT_FALSE(split_tcp4(udp.data(), udp.size(), 1448, [](const uint8_t*, size_t) {}));
  Bytes runt(10, 0x45);
  EXPECT_FALSE(split_tcp4(runt.data(), runt.size(), 1448, [](const uint8_t*, size_t) {}));
}

TEST(TcpSegments, segments_join_back_into_one_gso_packet) {
  Bytes super = tcp_packet(77, 10 * 1448 + 5, 0x18, 9);
  std::vector<Bytes> segs = split(super, 1448);
  SegmentJoiner j;
  for (const Bytes& s : segs) ASSERT_TRUE(j.add(s.data(), s.size()));
  EXPECT_EQ(j.segments(), 11u);
  Bytes out;
  j.take(out);
  EXPECT_TRUE(j.empty());
  VnetHdr h = VnetHdr::read(out.data());
  EXPECT_EQ(h.gso_type, VnetHdr::kGsoTcpv4);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(h.flags, VnetHdr::kNeedsCsum);
  EXPECT_EQ(h.csum_start, 20);
  EXPECT_EQ(h.csum_offset, 16);
  EXPECT_EQ(h.hdr_len, 52);
  const uint8_t* p = out.data() + VnetHdr::kSize;
  size_t len = out.size() - VnetHdr::kSize;
  ASSERT_EQ(len, super.size());
  expect_valid(p, len);
  EXPECT_EQ(std::memcmp(p + 52, super.data() + 52, len - 52), 0);
  EXPECT_EQ(p[33] & 0x08, 0x08) << "the last segment's PSH";
}

TEST(TcpSegments, a_gap_or_another_flow_starts_a_new_packet) {
  std::vector<Bytes> segs = split(tcp_packet(0, 4 * 1448, 0x10), 1448);
  SegmentJoiner j;
  ASSERT_TRUE(j.add(segs[0].data(), segs[0].size()));
  EXPECT_FALSE(j.add(segs[2].data(), segs[2].size())) << "segment 1 was lost";
  Bytes out;
  j.take(out);
  EXPECT_EQ(VnetHdr::read(out.data()).gso_type, VnetHdr::kGsoNone) << "one segment: no GSO";
  expect_valid(out.data() + VnetHdr::kSize, out.size() - VnetHdr::kSize);
  ASSERT_TRUE(j.add(segs[2].data(), segs[2].size()));
  Bytes other = segs[3];
  other[21] ^= 1;  // another source port
  EXPECT_FALSE(j.add(other.data(), other.size()));
  Bytes ack = tcp_packet(0, 0, 0x10);
  j.take(out);
  ASSERT_TRUE(j.add(ack.data(), ack.size()));
  EXPECT_FALSE(j.add(segs[3].data(), segs[3].size())) << "a pure ACK starts no run";
  Bytes syn = tcp_packet(0, 0, 0x02);
  j.take(out);
  ASSERT_TRUE(j.add(syn.data(), syn.size()));
  EXPECT_FALSE(j.add(segs[3].data(), segs[3].size()));
}

TEST(TcpSegments, a_short_segment_ends_the_run) {
  std::vector<Bytes> segs = split(tcp_packet(0, 1448 + 100, 0x10), 1448);
  Bytes next = tcp_packet(1548, 1448, 0x10);
  SegmentJoiner j;
  ASSERT_TRUE(j.add(segs[0].data(), segs[0].size()));
  ASSERT_TRUE(j.add(segs[1].data(), segs[1].size()));
  EXPECT_FALSE(j.add(next.data(), next.size())) << "only the last segment may be short";
}

TEST(TcpSegments, partial_udp_checksum_is_completed) {
  // 198.18.0.2:5000 -> 198.18.0.1:6000, 4 payload bytes, checksum left partial.
  Bytes p = {0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1,
             0x13, 0x88, 0x17, 0x70, 0, 12, 0, 0, 1, 2, 3, 4};
  uint32_t pseudo = ones_sum(p.data() + 12, 8, 17 + 12);
  p[26] = uint8_t(pseudo >> 8);
  p[27] = uint8_t(pseudo);
  VnetHdr h;
  h.flags = VnetHdr::kNeedsCsum;
  h.csum_start = 20;
  h.csum_offset = 6;
  complete_checksum(h, p.data(), p.size());
  EXPECT_EQ(ones_sum(p.data() + 20, 12, ones_sum(p.data() + 12, 8, 17 + 12)), 0xffffu);
}

}  // namespace
}  // namespace ferry::link
