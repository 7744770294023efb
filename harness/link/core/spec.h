// A link's behaviour in one direction, and the netem-like text that describes it
// (`delay 20ms 5ms loss 1% rate 100mbit`). Parsing is pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::link {

struct LinkSpec {
  // Propagation delay, and jitter: each packet gets delay_us plus a uniform offset in
  // [-jitter_us, +jitter_us] (never below 0). Jitter never reorders packets (see link_core.h).
  uint64_t delay_us = 0;
  uint64_t jitter_us = 0;

  // Random (Bernoulli) loss: each packet is lost with this probability (0..1).
  double loss = 0;

  // Bursty loss, the Gilbert-Elliott model (netem `loss gemodel p r 1-h 1-k`): a two-state
  // chain moved once per packet (good -> bad with ge_p, bad -> good with ge_r); a packet is
  // lost with ge_bad_loss in the bad state and ge_good_loss in the good one. Mean burst length
  // (packets in the bad state) is 1/ge_r. Replaces `loss` when set.
  bool gemodel = false;
  double ge_p = 0;
  double ge_r = 1;
  double ge_bad_loss = 1;
  double ge_good_loss = 0;

  // Each packet is sent twice with this probability.
  double duplicate = 0;
  // netem's reorder: with this probability a packet skips the delay and so overtakes the
  // packets still on the wire. Has an effect only with a delay.
  double reorder = 0;

  // Rate cap in bits per second (0 = none): a token bucket of burst_bytes (0 = one 1500-byte
  // packet, so the cap is a plain serialisation delay) in front of the delay line.
  uint64_t rate_bps = 0;
  uint64_t burst_bytes = 0;
  // Longest queue of packets waiting for the rate cap; more arrive to a tail drop.
  uint32_t limit = 1000;

  // The first N packets in this direction are lost, before any other rule. With --up-link
  // it is the client's opening SYN: how a client copes with a lost handshake, every time.
  uint32_t drop_first = 0;

  bool operator==(const LinkSpec&) const = default;
};

// Parses a netem-like spec (grammar in docs/harness-link.md). The empty string is a clean
// link. On error returns false with `err` naming the bad word.
bool parse_link_spec(std::string_view text, LinkSpec& out, std::string& err);

// Canonical text of a spec (parses back to the same spec); "" for a clean link.
std::string format_link_spec(const LinkSpec& spec);

}  // namespace ferry::link
