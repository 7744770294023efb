#include "proto/chunk_sum.h"

#include <xxhash.h>

#include <cstring>

namespace ferry::proto {

ChunkSum chunk_sum(const void* data, size_t len) {
  XXH128_canonical_t canon;
  XXH128_canonicalFromHash(&canon, XXH3_128bits(data, len));
  ChunkSum out;
  static_assert(sizeof canon.digest == std::tuple_size_v<ChunkSum>);
  std::memcpy(out.data(), canon.digest, out.size());
  return out;
}

}  // namespace ferry::proto
