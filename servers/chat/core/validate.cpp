// Input rules (see validate.h).
#include "servers/chat/core/validate.h"

#include "proto/json.h"

namespace ferry::chat {

namespace {
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool valid_username(std::string_view name) {
  if (name.size() < 3 || name.size() > 32 || !is_lower(name[0])) return false;
  for (char c : name) {
    if (!is_lower(c) && !is_digit(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool valid_password(std::string_view password) {
  return password.size() >= kPasswordBytesMin && password.size() <= kPasswordBytesMax;
}

bool valid_cid(std::string_view cid) {
  if (cid.size() < 8 || cid.size() > 64) return false;
  for (char c : cid) {
    if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool valid_text(std::string_view text) {
  return !text.empty() && text.size() <= kTextBytesMax && proto::utf8_valid(text);
}

bool valid_token(std::string_view token) {
  if (token.size() != 64) return false;
  for (char c : token) {
    if (!is_hex(c)) return false;
  }
  return true;
}

}  // namespace ferry::chat
