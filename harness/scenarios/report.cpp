#include "harness/scenarios/report.h"

#include <cjson/cJSON.h>

#include <cstdio>
#include <fstream>
#include <map>

namespace ferry::scenarios {

uint64_t summary_num(const std::string& summary, const std::string& dir, const std::string& key) {
  cJSON* j = cJSON_Parse(summary.c_str());
  const cJSON* o = dir.empty() ? j : cJSON_GetObjectItemCaseSensitive(j, dir.c_str());
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key.c_str());
  uint64_t n = cJSON_IsNumber(v) ? uint64_t(v->valuedouble) : 0;
  cJSON_Delete(j);
  return n;
}

uint64_t both_dirs(const std::string& summary, const std::string& key) {
  return summary_num(summary, "up", key) + summary_num(summary, "down", key);
}

void MessageCheck::evaluate(const std::vector<std::string>& received) {
  std::map<std::string, int> seen;
  for (const std::string& t : received) seen[t]++;
  std::map<std::string, bool> sent;
  for (const std::string& t : attempted) sent[t] = true;
  lost = duplicated = unexpected = 0;
  for (const std::string& t : acked)
    if (seen.find(t) == seen.end()) lost++;
  for (const auto& [t, n] : seen) {
    if (n > 1) duplicated += uint64_t(n - 1);
    if (!sent.count(t)) unexpected++;
  }
}

void ScenarioReport::count(const MessageCheck& check) {
  messages = check.attempted.size();
  acked = check.acked.size();
  lost += check.lost;
  duplicated += check.duplicated;
  unexpected += check.unexpected;
}

void ScenarioReport::print() const {
  const char* outcome = !skipped.empty()    ? "skipped"
                        : !verdict.passed()  ? "FAILED"
                        : !vacuous.empty()   ? "vacuous"
                                             : "ok";
  std::printf(
      "[ chaos    ] %-28s seed=%llu sent=%llu resent=%llu resumes=%llu %.1fs hash=%s "
      "msgs=%llu acked=%llu lost=%llu dup=%llu unexpected=%llu %s\n",
      name.c_str(), (unsigned long long)seed, (unsigned long long)bytes_sent,
      (unsigned long long)bytes_resent, (unsigned long long)resumes, seconds, hash_check.c_str(),
      (unsigned long long)messages, (unsigned long long)acked, (unsigned long long)lost,
      (unsigned long long)duplicated, (unsigned long long)unexpected, outcome);
  if (!skipped.empty()) std::printf("             skipped: %s\n", skipped.c_str());
  if (!vacuous.empty()) std::printf("             vacuous: %s\n", vacuous.c_str());
  for (const std::string& f : verdict.failures) std::printf("             FAILED: %s\n", f.c_str());
  std::fflush(stdout);
}

std::string ScenarioReport::json() const {
  cJSON* j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "name", name.c_str());
  cJSON_AddNumberToObject(j, "seed", double(seed));
  cJSON_AddStringToObject(j, "outcome", !skipped.empty()    ? "skipped"
                                        : !verdict.passed()  ? "failed"
                                        : !vacuous.empty()   ? "vacuous"
                                                             : "ok");
  cJSON_AddNumberToObject(j, "file_size", double(file_size));
  cJSON_AddNumberToObject(j, "bytes_sent", double(bytes_sent));
  cJSON_AddNumberToObject(j, "bytes_resent", double(bytes_resent));
  cJSON_AddNumberToObject(j, "resumes", double(resumes));
  cJSON_AddNumberToObject(j, "seconds", seconds);
  cJSON_AddStringToObject(j, "hash_check", hash_check.c_str());
  cJSON_AddNumberToObject(j, "messages", double(messages));
  cJSON_AddNumberToObject(j, "acked", double(acked));
  cJSON_AddNumberToObject(j, "lost", double(lost));
  cJSON_AddNumberToObject(j, "duplicated", double(duplicated));
  cJSON_AddNumberToObject(j, "unexpected", double(unexpected));
  if (!skipped.empty()) cJSON_AddStringToObject(j, "skipped", skipped.c_str());
  if (!vacuous.empty()) cJSON_AddStringToObject(j, "vacuous", vacuous.c_str());
  cJSON* failures = cJSON_AddArrayToObject(j, "failures");
  for (const std::string& f : verdict.failures)
    cJSON_AddItemToArray(failures, cJSON_CreateString(f.c_str()));
  cJSON* chaos = cJSON_Parse(chaos_summary.c_str());
  if (chaos) cJSON_AddItemToObject(j, "chaos", chaos);
  char* text = cJSON_Print(j);
  std::string out = text ? text : "{}";
  cJSON_free(text);
  cJSON_Delete(j);
  return out;
}

bool ScenarioReport::write(const std::string& dir) const {
  std::ofstream f(dir + "/" + name + "-seed" + std::to_string(seed) + ".json");
  f << json() << "\n";
  return bool(f);
}

}  // namespace ferry::scenarios
