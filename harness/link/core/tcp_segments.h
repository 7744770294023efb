// TCP segmentation offload for ferry-link, sans-I/O: the kernel hands the TUN reader TCP
// "super-packets" of up to 64 KiB (TSO through IFF_VNET_HDR), and ferry-link must still lose,
// delay and reorder the 1500-byte segments a real link carries. So every super-packet is cut
// into the segments the kernel itself would have sent (split_tcp4), each goes through the
// LinkCore on its own, and the segments released together are joined again (SegmentJoiner)
// into one super-packet for the TUN write on the other side, which the receiving stack takes
// like a GRO'd packet.
//
// Why: one TUN write per 1500-byte packet runs the whole receive path of the other namespace
// per packet in ferry-link's thread; at ~56 MB/s that was ferry-link's ceiling on this
// machine, below what one BBR stream over a 40 ms path can do, so the multi-connection upload
// (issue 7) could not show what it gains. With offload, reads and writes carry up to 44
// segments each.
//
// Checksums: TCP segments leave with a partial checksum (the pseudo-header sum) and
// VIRTIO_NET_HDR_F_NEEDS_CSUM, as the kernel's own TSO output does; the receiving kernel
// treats them as verified, so no byte of payload is summed here. A non-TCP packet that came
// with a partial checksum has it completed (completed_checksum), so what LinkCore holds is
// always a packet that stands on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace ferry::link {

// struct virtio_net_hdr (linux/virtio_net.h), in the host's byte order (TUN's default).
struct VnetHdr {
  static constexpr uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr uint8_t kGsoNone = 0;    // VIRTIO_NET_HDR_GSO_NONE
  static constexpr uint8_t kGsoTcpv4 = 1;   // VIRTIO_NET_HDR_GSO_TCPV4
  static constexpr uint8_t kGsoEcn = 0x80;  // VIRTIO_NET_HDR_GSO_ECN, or'ed into gso_type
  static constexpr size_t kSize = 10;

  uint8_t flags = 0;
  uint8_t gso_type = kGsoNone;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  static VnetHdr read(const uint8_t* p);
  void write(uint8_t* p) const;
};

// Calls `segment` for each segment of the IPv4 TCP packet `pkt` cut at `mss` payload bytes:
// sequence numbers, IP lengths and ids, header checksums and flags (CWR on the first, PSH and
// FIN on the last) as the kernel's own segmentation sets them. A packet with no more than
// `mss` payload bytes comes out whole. False (nothing called) if it is not IPv4 TCP.
bool split_tcp4(const uint8_t* pkt, size_t len, uint16_t mss,
                const std::function<void(const uint8_t*, size_t)>& segment);

// Prepares a lone packet from the kernel for the delay line: a TCP packet is passed on
// as it is (its checksum is rewritten on the way out); any other packet whose checksum the
// kernel left partial (NEEDS_CSUM at csum_start/csum_offset) gets it completed in place.
void complete_checksum(const VnetHdr& h, uint8_t* pkt, size_t len);

// Joins consecutive TCP segments of one flow released together back into one super-packet.
// Feed packets in release order with add(); when it returns false, take() what it holds,
// then add() the packet again (it always takes a packet when empty).
class SegmentJoiner {
 public:
  // Room left for the vnet header in front of the packet take() returns.
  static constexpr size_t kMaxJoined = 65535;

  bool empty() const { return count_ == 0; }
  bool add(const uint8_t* pkt, size_t len);
  // The joined packet, with its vnet header in front (VnetHdr::kSize bytes); empties it.
  void take(std::vector<uint8_t>& out);
  uint32_t segments() const { return count_; }

 private:
  bool joinable(const uint8_t* pkt, size_t len) const;

  std::vector<uint8_t> buf_;  // vnet header room, then the packet built so far
  uint32_t count_ = 0;
  bool tcp_ = false;
  uint16_t mss_ = 0;           // payload of the first segment; every one but the last has it
  uint16_t last_payload_ = 0;  // payload of the last segment added
  uint32_t next_seq_ = 0;
};

}  // namespace ferry::link
