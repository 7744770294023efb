// Proves the frame codec reassembles frames from any split of the byte stream, and refuses
// oversized and unknown frames before buffering their bodies.
#include <gtest/gtest.h>

#include <random>

#include "proto/frame.h"

using namespace ferry::proto;

TEST(frame, roundtrip_every_split) {
  std::string wire;
  encode_frame(wire, FrameType::Hello, R"({"proto":1})");
  encode_frame(wire, FrameType::Ping, "");
  encode_frame(wire, FrameType::Request, std::string(3000, 'x'));
  // Feed the stream one split point at a time, and byte by byte.
  for (size_t step : {size_t(1), size_t(2), size_t(7), size_t(4096)}) {
    FrameDecoder dec;
    std::vector<std::pair<FrameType, std::string>> got;
    for (size_t i = 0; i < wire.size(); i += step) {
      dec.feed(wire.data() + i, std::min(step, wire.size() - i));
      Frame f;
      while (dec.next(f) == DecodeStatus::Ready) got.emplace_back(f.type, std::string(f.body));
    }
    ASSERT_EQ(got.size(), 3u) << "step " << step;
    EXPECT_EQ(got[0].first, FrameType::Hello);
    EXPECT_EQ(got[0].second, R"({"proto":1})");
    EXPECT_EQ(got[1].first, FrameType::Ping);
    EXPECT_EQ(got[1].second, "");
    EXPECT_EQ(got[2].second.size(), 3000u);
    EXPECT_EQ(dec.buffered(), 0u);
  }
}

TEST(frame, random_splits) {
  std::mt19937 rng(42);
  std::string wire;
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; i++) {
    bodies.push_back(std::string(rng() % 500, char('a' + i % 26)));
    encode_frame(wire, FrameType::Push, bodies.back());
  }
  FrameDecoder dec;
  size_t n = 0;
  for (size_t i = 0; i < wire.size();) {
    size_t k = std::min<size_t>(1 + rng() % 300, wire.size() - i);
    dec.feed(wire.data() + i, k);
    i += k;
    Frame f;
    while (dec.next(f) == DecodeStatus::Ready) {
      ASSERT_LT(n, bodies.size());
      EXPECT_EQ(f.body, bodies[n]);
      n++;
    }
  }
  EXPECT_EQ(n, bodies.size());
}

TEST(frame, oversized_refused_before_body) {
  FrameDecoder dec(1024);
  uint8_t header[kFrameHeaderBytes];
  encode_frame_header(header, FrameType::Request, 1u << 30);
  dec.feed(reinterpret_cast<char*>(header), sizeof header);
  Frame f;
  EXPECT_EQ(dec.next(f), DecodeStatus::TooLarge);
  EXPECT_NE(dec.error().find("exceeds"), std::string::npos);
  // Stays failed: the stream cannot be trusted any more.
  dec.feed("xxxx", 4);
  EXPECT_EQ(dec.next(f), DecodeStatus::TooLarge);
  EXPECT_LE(dec.buffered(), kFrameHeaderBytes);
}

TEST(frame, exact_limit_accepted) {
  FrameDecoder dec(16);
  std::string wire;
  encode_frame(wire, FrameType::Request, std::string(16, 'z'));
  dec.feed(wire.data(), wire.size());
  Frame f;
  EXPECT_EQ(dec.next(f), DecodeStatus::Ready);
}

TEST(frame, unknown_type_refused) {
  FrameDecoder dec;
  const char garbage[] = "\x00\x00\x00\x01\x7fZ";
  dec.feed(garbage, 6);
  Frame f;
  EXPECT_EQ(dec.next(f), DecodeStatus::BadType);
  EXPECT_NE(dec.error().find("0x7f"), std::string::npos);
}

TEST(frame, truncated_frame_waits) {
  FrameDecoder dec;
  std::string wire;
  encode_frame(wire, FrameType::Request, "hello");
  dec.feed(wire.data(), wire.size() - 1);
  Frame f;
  EXPECT_EQ(dec.next(f), DecodeStatus::NeedMore);
  dec.feed(wire.data() + wire.size() - 1, 1);
  EXPECT_EQ(dec.next(f), DecodeStatus::Ready);
  EXPECT_EQ(f.body, "hello");
}
