// Hand-written JSON output for the hottest objects: the chat server's text MESSAGE (once per
// send; response and pushes share it) and the SDK's send request (once per message). Building
// them through cJSON allocated a node per field and a copy per string; appending to one string
// does neither. The output is byte for byte what cJSON_PrintUnformatted gives for the same
// fields (chat_core_test and sdk_core_test check it), so the wire format does not depend on
// which path printed it. Only output: every body is still parsed by cJSON.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::proto {

// Appends `s` as a JSON string with cJSON's escapes: \" \\ \b \f \n \r \t, \u00XX for other
// bytes below 0x20, everything else (UTF-8 included) as is.
inline void json_append_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (ch) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\b':
        out += 'b';
        break;
      case '\f':
        out += 'f';
        break;
      case '\n':
        out += 'n';
        break;
      case '\r':
        out += 'r';
        break;
      case '\t':
        out += 't';
        break;
      default:
        out += "u00";
        out += hex[ch >> 4];
        out += hex[ch & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

// Appends an integer as cJSON prints whole numbers below 10^15 (every id and ms timestamp).
template <class Int>
inline void json_append_int(std::string& out, Int v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace ferry::proto
