// Input rules of docs/protocol.md section 3, in one place so the core, its tests and the docs
// agree. Pure functions; no state.
#pragma once

#include <cstddef>
#include <string_view>

namespace ferry::chat {

inline constexpr size_t kPasswordBytesMin = 8;
inline constexpr size_t kPasswordBytesMax = 1024;
inline constexpr size_t kTextBytesMax = 65536;
inline constexpr unsigned kSyncLimitDefault = 500;
inline constexpr unsigned kHistoryLimitDefault = 50;
inline constexpr unsigned kPageLimitMax = 1000;

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

}  // namespace ferry::chat
