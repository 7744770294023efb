// Content-Disposition and HTTP dates (see headers.h).
#include "servers/resource/http/core/headers.h"

namespace ferry::resource::http {

namespace {

bool attr_char(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '&':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// Length of the UTF-8 sequence starting at s[i] (1 for an invalid lead or truncated one), so
// the fallback puts one `_` per character rather than per byte.
size_t utf8_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
  if (c >= 0xF5) n = 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; k++) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

// Days since 1970-01-01 -> civil date (Howard Hinnant's days_from_civil inverse).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
}

void two(std::string& out, unsigned v) {
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
}

}  // namespace

std::string content_disposition(std::string_view name) {
  if (name.empty()) name = "download";
  std::string fallback, encoded;
  for (size_t i = 0; i < name.size();) {
    size_t n = utf8_len(name, i);
    unsigned char c = static_cast<unsigned char>(name[i]);
    bool plain = n == 1 && c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '%' && c != '/';
    fallback += plain ? static_cast<char>(c) : '_';
    i += n;
  }
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : name) {
    if (attr_char(c)) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

std::string http_date(int64_t unix_s) {
  static const char* const kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (unix_s < 0) unix_s = 0;
  int64_t days = unix_s / 86400, secs = unix_s % 86400;
  int64_t y = 0;
  unsigned m = 1, d = 1;
  civil_from_days(days, y, m, d);
  std::string out = kDays[days % 7];
  out += ", ";
  two(out, d);
  out += ' ';
  out += kMonths[m - 1];
  out += ' ';
  out += std::to_string(y);
  out += ' ';
  two(out, static_cast<unsigned>(secs / 3600));
  out += ':';
  two(out, static_cast<unsigned>(secs / 60 % 60));
  out += ':';
  two(out, static_cast<unsigned>(secs % 60));
  out += " GMT";
  return out;
}

std::string header_safe(std::string_view value) {
  std::string out;
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7F) out += c;
  }
  return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace ferry::resource::http
