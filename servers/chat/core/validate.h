// Input rules of docs/protocol.md sections 3, 6 and 7, in one place so the core, its tests and the
// docs agree. Pure functions; no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::chat {

inline constexpr size_t kPasswordBytesMin = 8;
inline constexpr size_t kPasswordBytesMax = 1024;
inline constexpr size_t kTextBytesMax = 65536;
inline constexpr unsigned kSyncLimitDefault = 500;
inline constexpr unsigned kHistoryLimitDefault = 50;
inline constexpr unsigned kPageLimitMax = 1000;

// Media messages (section 6).
inline constexpr size_t kMediaNameBytesMax = 255;
inline constexpr size_t kMimeBytesMax = 127;
inline constexpr size_t kThumbBytesMax = 65536;              // decoded
inline constexpr uint64_t kMediaSizeMax = (1ull << 53) - 1;  // exact in a JSON double
inline constexpr uint64_t kMediaDimensionMax = 1000000;      // pixels; far above any real image
inline constexpr size_t kAdvertiseBytesMax = 255;

// 3-32 characters of a-z 0-9 _ . -, starting with a letter. Lowercase only, so look-alike
// names ("Alice" vs "alice") cannot both exist.
bool valid_username(std::string_view name);
// 8-1024 bytes, any content (the hash does not care).
bool valid_password(std::string_view password);
// 8-64 characters of [A-Za-z0-9_-].
bool valid_cid(std::string_view cid);
// 1-65536 bytes of valid UTF-8.
bool valid_text(std::string_view text);
// 64 lowercase or uppercase hex digits (a session token).
bool valid_token(std::string_view token);

// "image", "video" or "file".
bool valid_media_kind(std::string_view kind);
// 1-255 bytes of valid UTF-8 without control characters (C0, DEL, C1). Shown as given, never
// used as a path, so slashes and dots are fine.
bool valid_media_name(std::string_view name);
// 1-127 bytes of printable ASCII (a MIME type with optional parameters).
bool valid_mime(std::string_view mime);
// Exactly 64 lowercase hex digits: one spelling per hash, so equal files compare equal.
bool valid_sha256_hex(std::string_view hex);
// True when `bytes` start like a JPEG (SOI marker FF D8 FF).
bool looks_like_jpeg(std::string_view bytes);
// HOST:PORT with a non-empty host of [A-Za-z0-9.-] (or [IPv6]) and a port of 1-65535.
bool valid_host_port(std::string_view address);

// Standard base64 (RFC 4648 section 4, with padding). Decoding is strict: a length that is not
// a multiple of 4, a character outside the alphabet, misplaced padding or non-zero pad bits
// are refused, so every byte string has exactly one accepted spelling.
bool base64_decode(std::string_view text, std::string& out);
std::string base64_encode(std::string_view bytes);

}  // namespace ferry::chat
