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

bool valid_media_kind(std::string_view kind) {
  return kind == "image" || kind == "video" || kind == "file";
}

bool valid_media_name(std::string_view name) {
  if (name.empty() || name.size() > kMediaNameBytesMax || !proto::utf8_valid(name)) return false;
  for (size_t i = 0; i < name.size(); i++) {
    auto b = static_cast<unsigned char>(name[i]);
    if (b < 0x20 || b == 0x7f) return false;
    // C1 controls U+0080-U+009F are encoded C2 80 - C2 9F.
    if (b == 0xc2 && i + 1 < name.size()) {
      auto n = static_cast<unsigned char>(name[i + 1]);
      if (n >= 0x80 && n <= 0x9f) return false;
    }
  }
  return true;
}

bool valid_mime(std::string_view mime) {
  if (mime.empty() || mime.size() > kMimeBytesMax) return false;
  for (char c : mime) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool valid_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

bool looks_like_jpeg(std::string_view bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xff &&
         static_cast<unsigned char>(bytes[1]) == 0xd8 &&
         static_cast<unsigned char>(bytes[2]) == 0xff;
}

bool valid_host_port(std::string_view address) {
  if (address.empty() || address.size() > kAdvertiseBytesMax) return false;
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = address.substr(0, colon), port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  unsigned p = 0;
  for (char c : port) {
    if (!is_digit(c)) return false;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (p == 0 || p > 65535) return false;
  if (host.front() == '[') {  // [IPv6]
    if (host.size() < 3 || host.back() != ']') return false;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!is_hex(c) && c != ':' && c != '.') return false;
    }
    return true;
  }
  for (char c : host) {
    if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '.' && c != '-') return false;
  }
  return true;
}

namespace {
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
      int d = 0;
      if (last && k >= 4 - pad) {
        d = 0;  // a pad character
      } else if ((d = b64_value(text[i + k])) < 0) {
        return false;
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (!(last && pad == 2)) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (!(last && pad >= 1)) out.push_back(static_cast<char>(v & 0xff));
    // Non-zero bits under the padding would give one byte string two spellings.
    if (last && pad == 2 && (v & 0xffff) != 0) return false;
    if (last && pad == 1 && (v & 0xff) != 0) return false;
  }
  return true;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace ferry::chat
