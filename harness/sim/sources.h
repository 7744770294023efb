// The files the simulated clients upload, by SHA-256 (hex). They stand for the clients' disks
// (which survive any crash) and are the reference the checker compares stored files with.
// Chunk checksums are proto::chunk_sum (XXH3-128, memory speed), so they are not cached: a
// lookup plus the memcmp proving a payload equals its source would cost about as much.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "proto/hex.h"
#include "proto/upload_frames.h"

namespace ferry::sim {

inline proto::Sha256 sha256_of(std::string_view data) {
  std::string d = proto::sha256(data);
  proto::Sha256 h{};
  std::copy(d.begin(), d.end(), h.begin());
  return h;
}

inline std::string hex_of(const proto::Sha256& h) {
  return proto::hex_encode(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

class Sources {
 public:
  // Returns the hex SHA-256 of the new file.
  std::string add(std::string bytes) {
    std::string hex = hex_of(sha256_of(bytes));
    files_.emplace(hex, std::move(bytes));
    return hex;
  }
  const std::string* find(const std::string& hex) const {
    auto it = files_.find(hex);
    return it == files_.end() ? nullptr : &it->second;
  }
  // True when some file of `size` bytes holds `bytes` at `offset`: what a chunk of an upload
  // whose hash is not bound yet ("hash later") can be checked against.
  bool any_holds(uint64_t size, uint64_t offset, std::string_view bytes) const {
    for (const auto& [hex, f] : files_) {
      if (f.size() == size && std::string_view(f).substr(offset, bytes.size()) == bytes) {
        return true;
      }
    }
    return false;
  }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace ferry::sim
