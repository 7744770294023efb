#include "harness/chaos/core/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "harness/chaos/core/faults.h"
#include "proto/json.h"

namespace ferry::chaos {
namespace {

bool value_text(const cJSON* v, std::string& out) {
  if (cJSON_IsBool(v)) {
    out = cJSON_IsTrue(v) ? "true" : "false";
  } else if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    char buf[64];
    if (d == std::floor(d) && std::fabs(d) < 9.0e15)
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
    else
      std::snprintf(buf, sizeof buf, "%.17g", d);
    out = buf;
  } else if (cJSON_IsString(v)) {
    out = v->valuestring;
  } else {
    return false;
  }
  return true;
}

// Reads a "set" object and checks each setting against a scratch Faults.
bool read_settings(const cJSON* obj, const std::string& where, Settings& out, std::string& err) {
  if (!cJSON_IsObject(obj)) return err = where + ": \"set\" must be an object", false;
  Faults scratch;
  SettingEffects fx;
  for (const cJSON* it = obj->child; it; it = it->next) {
    std::string text;
    if (!value_text(it, text))
      return err = where + ": " + it->string + " must be a number, boolean or string", false;
    std::string e;
    if (!apply_setting(scratch, it->string, text, fx, e)) return err = where + ": " + e, false;
    out.emplace_back(it->string, text);
  }
  return true;
}

}  // namespace

bool parse_scenario(std::string_view json, Scenario& out, std::string& err) {
  proto::Json root = proto::json_parse(json);
  if (!root || !cJSON_IsObject(root.get())) return err = "scenario: not a JSON object", false;
  const cJSON* r = root.get();
  if (!proto::json_only_fields(r, {"name", "description", "seed", "set", "schedule"}, err) ||
      !proto::json_opt_string(r, "name", out.name, err) ||
      !proto::json_opt_string(r, "description", out.description, err))
    return false;
  if (cJSON_GetObjectItemCaseSensitive(r, "seed")) {
    if (!proto::json_get_u64(r, "seed", out.seed, err)) return false;
    out.has_seed = true;
  }
  if (const cJSON* set = cJSON_GetObjectItemCaseSensitive(r, "set"))
    if (!read_settings(set, "set", out.set, err)) return false;
  const cJSON* sched = cJSON_GetObjectItemCaseSensitive(r, "schedule");
  if (sched && !cJSON_IsArray(sched)) return err = "schedule must be an array", false;
  int i = 0;
  for (const cJSON* step = sched ? sched->child : nullptr; step; step = step->next, i++) {
    std::string where = "schedule[" + std::to_string(i) + "]";
    if (!cJSON_IsObject(step)) return err = where + " must be an object", false;
    ScenarioStep s;
    std::string e;
    if (!proto::json_only_fields(step, {"at_ms", "set"}, e) ||
        !proto::json_get_u64(step, "at_ms", s.at_ms, e))
      return err = where + ": " + e, false;
    const cJSON* set = cJSON_GetObjectItemCaseSensitive(step, "set");
    if (!set) return err = where + ": missing \"set\"", false;
    if (!read_settings(set, where, s.set, err)) return false;
    out.schedule.push_back(std::move(s));
  }
  std::stable_sort(out.schedule.begin(), out.schedule.end(),
                   [](const ScenarioStep& a, const ScenarioStep& b) { return a.at_ms < b.at_ms; });
  return true;
}

}  // namespace ferry::chaos
