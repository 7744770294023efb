// Hex encoding, secure random bytes and SHA-256 helpers (OpenSSL), shared by SDK and servers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::proto {

std::string hex_encode(std::string_view bytes);
// Returns false on odd length or a non-hex digit.
bool hex_decode(std::string_view hex, std::string& out);
// Cryptographically random bytes (RAND_bytes); aborts if the RNG fails (nothing safe to do).
std::string random_bytes(size_t n);
// Random hex id of 2*n characters (client message ids, session tokens).
std::string random_hex(size_t n);
// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);

}  // namespace ferry::proto
