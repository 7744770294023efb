// Splitting and joining TCP segments for ferry-link's offload path (see tcp_segments.h).
#include "harness/link/core/tcp_segments.h"

#include <algorithm>
#include <cstring>

namespace ferry::link {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20,
                  kCwr = 0x80;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, uint16_t(v >> 16));
  put16(p + 2, uint16_t(v));
}

// The Internet checksum's running sum (RFC 1071) over big-endian 16-bit words.
uint64_t sum_bytes(const uint8_t* p, size_t n, uint64_t sum = 0) {
  for (; n >= 2; p += 2, n -= 2) sum += be16(p);
  if (n) sum += uint32_t(p[0]) << 8;
  return sum;
}
uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

void set_ip_checksum(uint8_t* ip, size_t ihl) {
  put16(ip + 10, 0);
  put16(ip + 10, uint16_t(~fold(sum_bytes(ip, ihl))));
}

// What the kernel leaves in th->check for a partial checksum: the folded pseudo-header sum,
// not complemented (~tcp_v4_check(len, saddr, daddr, 0)).
void set_tcp_partial(uint8_t* ip, size_t ihl, size_t tcp_len) {
  uint64_t s = sum_bytes(ip + 12, 8) + kProtoTcp + tcp_len;
  put16(ip + ihl + 16, fold(s));
}

// IPv4 carrying a whole TCP header within len: its IP header length, else 0.
size_t tcp4_ihl(const uint8_t* p, size_t len) {
  if (len < 20 || (p[0] >> 4) != 4 || p[9] != kProtoTcp) return 0;
  size_t ihl = size_t(p[0] & 15) * 4;
  if (ihl < 20 || len < ihl + 20) return 0;
  size_t doff = size_t(p[ihl + 12] >> 4) * 4;
  if (doff < 20 || len < ihl + doff) return 0;
  return ihl;
}

}  // namespace

VnetHdr VnetHdr::read(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  std::memcpy(&h.hdr_len, p + 2, 2);
  std::memcpy(&h.gso_size, p + 4, 2);
  std::memcpy(&h.csum_start, p + 6, 2);
  std::memcpy(&h.csum_offset, p + 8, 2);
  return h;
}

void VnetHdr::write(uint8_t* p) const {
  p[0] = flags;
  p[1] = gso_type;
  std::memcpy(p + 2, &hdr_len, 2);
  std::memcpy(p + 4, &gso_size, 2);
  std::memcpy(p + 6, &csum_start, 2);
  std::memcpy(p + 8, &csum_offset, 2);
}

bool split_tcp4(const uint8_t* pkt, size_t len, uint16_t mss,
                const std::function<void(const uint8_t*, size_t)>& segment) {
  size_t ihl = tcp4_ihl(pkt, len);
  if (!ihl) return false;
  size_t hdr = ihl + size_t(pkt[ihl + 12] >> 4) * 4;
  size_t payload = len - hdr;
  if (mss == 0 || payload <= mss) {
    segment(pkt, len);
    return true;
  }
  const uint32_t seq0 = be32(pkt + ihl + 4);
  const uint16_t id0 = be16(pkt + 4);
  const uint8_t flags0 = pkt[ihl + 13];
  thread_local std::vector<uint8_t> seg;
  seg.resize(hdr + mss);
  std::memcpy(seg.data(), pkt, hdr);
  uint16_t i = 0;
  for (size_t off = 0; off < payload; off += mss, i++) {
    size_t n = std::min<size_t>(mss, payload - off);
    bool first = off == 0, last = off + n == payload;
    std::memcpy(seg.data() + hdr, pkt + hdr + off, n);
    put16(seg.data() + 2, uint16_t(hdr + n));
    put16(seg.data() + 4, uint16_t(id0 + i));
    set_ip_checksum(seg.data(), ihl);
    put32(seg.data() + ihl + 4, seq0 + uint32_t(off));
    uint8_t f = flags0;
    if (!first) f &= uint8_t(~kCwr);
    if (!last) f &= uint8_t(~(kPsh | kFin));
    seg[ihl + 13] = f;
    set_tcp_partial(seg.data(), ihl, hdr - ihl + n);
    segment(seg.data(), hdr + n);
  }
  return true;
}

void complete_checksum(const VnetHdr& h, uint8_t* pkt, size_t len) {
  if (!(h.flags & VnetHdr::kNeedsCsum) || tcp4_ihl(pkt, len)) return;
  size_t at = size_t(h.csum_start) + h.csum_offset;
  if (h.csum_start >= len || at + 2 > len) return;  // nonsense from the kernel: leave it
  uint16_t c = uint16_t(~fold(sum_bytes(pkt + h.csum_start, len - h.csum_start)));
  put16(pkt + at, c ? c : 0xffff);  // UDP: 0 means "no checksum"; TCP does not care
}

bool SegmentJoiner::joinable(const uint8_t* p, size_t len) const {
  if (!tcp_ || last_payload_ != mss_) return false;
  size_t ihl = tcp4_ihl(p, len);
  const uint8_t* q = buf_.data() + VnetHdr::kSize;  // the first segment's headers
  size_t qihl = size_t(q[0] & 15) * 4;
  if (ihl != qihl) return false;
  size_t doff = size_t(p[ihl + 12] >> 4) * 4;
  if (doff != size_t(q[ihl + 12] >> 4) * 4) return false;
  size_t payload = len - ihl - doff;
  if (payload == 0 || payload > mss_ || be32(p + ihl + 4) != next_seq_) return false;
  if (buf_.size() - VnetHdr::kSize + payload > kMaxJoined) return false;
  uint8_t f = p[ihl + 13], qf = q[ihl + 13];
  if ((qf & (kPsh | kFin)) || (f & ~(kAck | kPsh | kFin)) || (f & kAck) != (qf & kAck))
    return false;
  // Same flow, same ack and window, same options (timestamps), same TOS and TTL.
  return p[1] == q[1] && p[8] == q[8] && std::memcmp(p + 12, q + 12, 8) == 0 &&
         std::memcmp(p + ihl, q + ihl, 4) == 0 && std::memcmp(p + ihl + 8, q + ihl + 8, 4) == 0 &&
         std::memcmp(p + ihl + 14, q + ihl + 14, 2) == 0 &&
         std::memcmp(p + ihl + 20, q + ihl + 20, doff - 20) == 0;
}

bool SegmentJoiner::add(const uint8_t* p, size_t len) {
  if (count_ == 0) {
    buf_.assign(VnetHdr::kSize, 0);
    buf_.insert(buf_.end(), p, p + len);
    count_ = 1;
    size_t ihl = tcp4_ihl(p, len);
    tcp_ = ihl != 0;
    if (!tcp_) return true;
    size_t hdr = ihl + size_t(p[ihl + 12] >> 4) * 4;
    uint8_t f = p[ihl + 13];
    mss_ = last_payload_ = uint16_t(std::min<size_t>(len - hdr, 0xffff));
    next_seq_ = be32(p + ihl + 4) + uint32_t(len - hdr);
    // Only plain data segments start a run: a SYN, RST, URG or CWR one goes out alone.
    if (f & (kSyn | kRst | kUrg | kCwr)) mss_ = 0, last_payload_ = 1;
    return true;
  }
  if (!joinable(p, len)) return false;
  size_t ihl = size_t(p[0] & 15) * 4;
  size_t hdr = ihl + size_t(p[ihl + 12] >> 4) * 4;
  buf_.insert(buf_.end(), p + hdr, p + len);
  buf_[VnetHdr::kSize + ihl + 13] |= uint8_t(p[ihl + 13] & (kPsh | kFin));
  last_payload_ = uint16_t(len - hdr);
  next_seq_ += uint32_t(len - hdr);
  count_++;
  return true;
}

void SegmentJoiner::take(std::vector<uint8_t>& out) {
  VnetHdr h;
  uint8_t* ip = buf_.data() + VnetHdr::kSize;
  size_t len = buf_.size() - VnetHdr::kSize;
  if (tcp_) {
    size_t ihl = size_t(ip[0] & 15) * 4;
    size_t hdr = ihl + size_t(ip[ihl + 12] >> 4) * 4;
    put16(ip + 2, uint16_t(len));
    set_ip_checksum(ip, ihl);
    set_tcp_partial(ip, ihl, len - ihl);
    h.flags = VnetHdr::kNeedsCsum;
    h.csum_start = uint16_t(ihl);
    h.csum_offset = 16;
    h.hdr_len = uint16_t(hdr);
    if (count_ > 1) {
      h.gso_type = VnetHdr::kGsoTcpv4;
      h.gso_size = mss_;
    }
  }
  h.write(buf_.data());
  out.swap(buf_);
  buf_.clear();
  count_ = 0;
}

}  // namespace ferry::link
