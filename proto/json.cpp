// Strict JSON field access over cJSON (see json.h).
#include "proto/json.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace ferry::proto {

Json json_parse(std::string_view text) {
  const char* end = nullptr;
  cJSON* j = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false);
  if (!j) return nullptr;
  // Allow trailing whitespace only.
  const char* stop = text.data() + text.size();
  while (end && end < stop && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
  if (end != stop) {
    cJSON_Delete(j);
    return nullptr;
  }
  return Json(j);
}

std::string json_print(const cJSON* j) {
  char* s = cJSON_PrintUnformatted(j);
  if (!s) abort();
  std::string out(s);
  cJSON_free(s);
  return out;
}

static bool missing(const char* name, std::string& err) {
  err = std::string("missing field '") + name + "'";
  return false;
}

static bool wrong(const char* name, const char* what, std::string& err) {
  err = std::string("field '") + name + "' must be " + what;
  return false;
}

bool json_opt_string(const cJSON* obj, const char* name, std::string& out, std::string& err) {
  const cJSON* f = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!f) return true;
  if (!cJSON_IsString(f)) return wrong(name, "a string", err);
  out = f->valuestring;
  return true;
}

bool json_opt_u64(const cJSON* obj, const char* name, uint64_t& out, std::string& err) {
  const cJSON* f = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!f) return true;
  // cJSON keeps numbers as double; ids and sizes above 2^53 are not exact, so refuse them
  // rather than round silently.
  if (!cJSON_IsNumber(f)) return wrong(name, "a number", err);
  double v = f->valuedouble;
  if (!(v >= 0) || v > 9007199254740992.0 || std::floor(v) != v)
    return wrong(name, "a non-negative integer below 2^53", err);
  out = static_cast<uint64_t>(v);
  return true;
}

bool json_opt_bool(const cJSON* obj, const char* name, bool& out, std::string& err) {
  const cJSON* f = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!f) return true;
  if (!cJSON_IsBool(f)) return wrong(name, "true or false", err);
  out = cJSON_IsTrue(f);
  return true;
}

bool json_get_string(const cJSON* obj, const char* name, std::string& out, std::string& err) {
  if (!cJSON_GetObjectItemCaseSensitive(obj, name)) return missing(name, err);
  return json_opt_string(obj, name, out, err);
}

bool json_get_u64(const cJSON* obj, const char* name, uint64_t& out, std::string& err) {
  if (!cJSON_GetObjectItemCaseSensitive(obj, name)) return missing(name, err);
  return json_opt_u64(obj, name, out, err);
}

bool json_get_bool(const cJSON* obj, const char* name, bool& out, std::string& err) {
  if (!cJSON_GetObjectItemCaseSensitive(obj, name)) return missing(name, err);
  return json_opt_bool(obj, name, out, err);
}

bool json_only_fields(const cJSON* obj, std::initializer_list<const char*> allowed,
                      std::string& err) {
  for (const cJSON* f = obj ? obj->child : nullptr; f; f = f->next) {
    bool ok = false;
    for (const char* a : allowed) {
      if (f->string && std::strcmp(f->string, a) == 0) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      err = std::string("unknown field '") + (f->string ? f->string : "") + "'";
      return false;
    }
  }
  return true;
}

static void add(cJSON* obj, const char* name, cJSON* item) {
  if (!item || !cJSON_AddItemToObject(obj, name, item)) abort();
}

void json_set_string(cJSON* obj, const char* name, std::string_view value) {
  add(obj, name, cJSON_CreateString(std::string(value).c_str()));
}
void json_set_u64(cJSON* obj, const char* name, uint64_t value) {
  add(obj, name, cJSON_CreateNumber(static_cast<double>(value)));
}
void json_set_i64(cJSON* obj, const char* name, int64_t value) {
  add(obj, name, cJSON_CreateNumber(static_cast<double>(value)));
}
void json_set_bool(cJSON* obj, const char* name, bool value) {
  add(obj, name, cJSON_CreateBool(value));
}

bool utf8_valid(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

}  // namespace ferry::proto
