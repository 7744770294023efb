// Small, strict helpers over cJSON for control-frame bodies: parse, typed field access that
// reports *which* field is wrong and why, and a check that rejects unknown fields.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace ferry::proto {

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using Json = std::unique_ptr<cJSON, JsonDeleter>;

// Parses exactly `text` (not NUL-terminated); null on bad JSON or trailing bytes.
Json json_parse(std::string_view text);
// Compact serialization.
std::string json_print(const cJSON* j);
inline Json json_object() { return Json(cJSON_CreateObject()); }

// Field access. Each returns false and fills `err` ("field 'to' must be a string") when the
// field is missing (for the required forms) or has the wrong type.
bool json_get_string(const cJSON* obj, const char* name, std::string& out, std::string& err);
bool json_get_u64(const cJSON* obj, const char* name, uint64_t& out, std::string& err);
bool json_get_bool(const cJSON* obj, const char* name, bool& out, std::string& err);
// Optional forms: absent is fine (out untouched, returns true); present with wrong type fails.
bool json_opt_string(const cJSON* obj, const char* name, std::string& out, std::string& err);
bool json_opt_u64(const cJSON* obj, const char* name, uint64_t& out, std::string& err);
bool json_opt_bool(const cJSON* obj, const char* name, bool& out, std::string& err);
// Fails with "unknown field 'x'" when obj has a member not in `allowed`.
bool json_only_fields(const cJSON* obj, std::initializer_list<const char*> allowed,
                      std::string& err);

// Builders that never fail silently (cJSON allocation failure aborts: out of memory is fatal).
void json_set_string(cJSON* obj, const char* name, std::string_view value);
void json_set_u64(cJSON* obj, const char* name, uint64_t value);
void json_set_i64(cJSON* obj, const char* name, int64_t value);
void json_set_bool(cJSON* obj, const char* name, bool value);

// True when `s` is valid UTF-8 (no overlongs, no surrogates).
bool utf8_valid(std::string_view s);

}  // namespace ferry::proto
