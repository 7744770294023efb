// The per-chunk checksum carried by CHUNK frames: XXH3-128 (libxxhash), written big-endian.
//
// Why not SHA-256: a chunk's checksum only has to catch damage on the way (a flipped bit, a
// truncated read), and the whole file's SHA-256 is verified at the end anyway, so a forged
// chunk can never become a stored file. SHA-256 per chunk cost each side ~0.6 s of CPU per
// GiB on top of the whole-file hash (on 2 cores the upload was CPU-bound on hashing);
// XXH3-128 runs at memory speed and still misses random damage with odds of 2^-128.
#pragma once

#include <cstddef>

#include "proto/upload_frames.h"

namespace ferry::proto {

ChunkSum chunk_sum(const void* data, size_t len);

// The same sum over a chunk fed in pieces, so each piece is hashed right after it was read,
// while it is still in the cache (a chunk is 1-4 MiB; the copy that brings it in does not
// leave that much behind in L2, and XXH3 on memory runs at a third of its speed on cache).
class ChunkSummer {
 public:
  ChunkSummer();
  ~ChunkSummer();
  ChunkSummer(const ChunkSummer&) = delete;
  ChunkSummer& operator=(const ChunkSummer&) = delete;
  void update(const void* data, size_t len);
  ChunkSum digest() const;

 private:
  void* state_;  // XXH3_state_t, kept opaque so users need not include xxhash.h
};

}  // namespace ferry::proto
