// Password hashing: PBKDF2-HMAC-SHA256 (OpenSSL). Pure computation, no I/O, but slow on purpose
// (210000 iterations by default, ~100 ms): the core never calls it itself. It emits a HashJob
// and the adapter runs this function off the network loop (uv_queue_work), then feeds the
// result back with ChatCore::on_hash_done().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::chat {

inline constexpr uint32_t kKdfIterationsDefault = 210000;
inline constexpr uint32_t kKdfIterationsMin = 1000;
inline constexpr size_t kSaltBytes = 16;
inline constexpr size_t kHashBytes = 32;

// Returns the 32-byte derived key. Aborts only if OpenSSL itself fails (out of memory).
std::string pbkdf2_sha256(std::string_view password, std::string_view salt, uint32_t iterations);
// Constant-time comparison, so a mismatch position leaks nothing through timing.
bool hash_equal(std::string_view a, std::string_view b);

}  // namespace ferry::chat
