// The files the simulated clients upload, by SHA-256 (hex). They stand for the clients' disks
// (which survive any crash) and are the reference the checker compares stored files with.
// Hashing 1 MiB chunks is most of a run's CPU time, so chunk hashes are cached here: a payload
// that is byte-identical to the source at its offset has the source chunk's hash, and the
// memcmp that proves it is far cheaper than SHA-256.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

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
  // SHA-256 of `payload`, which claims to be bytes [offset, offset+len) of file `hex`.
  proto::Sha256 hash_at(const std::string& hex, uint64_t offset, std::string_view payload) {
    const std::string* src = find(hex);
    if (src && offset <= src->size() && payload.size() <= src->size() - offset &&
        std::string_view(*src).substr(offset, payload.size()) == payload) {
      auto key = std::make_tuple(hex, offset, payload.size());
      auto it = cache_.find(key);
      if (it != cache_.end()) return it->second;
      return cache_[key] = sha256_of(payload);
    }
    return sha256_of(payload);
  }

 private:
  std::map<std::string, std::string> files_;
  std::map<std::tuple<std::string, uint64_t, size_t>, proto::Sha256> cache_;
};

}  // namespace ferry::sim
