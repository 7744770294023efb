#include "cli/output.h"

#include <cjson/cJSON.h>

#include <cstdio>
#include <cstdlib>

namespace ferry::cli {

const char* status_name(int msg_status) {
  switch (msg_status) {
    case FERRY_MSG_PENDING:
      return "pending";
    case FERRY_MSG_SENT:
      return "sent";
    case FERRY_MSG_FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

void print_message_human(const ferry_message_t& m) {
  std::printf("[%llu] %s \u2192 %s: %s\n", static_cast<unsigned long long>(m.id), m.from, m.to,
              m.text);
  std::fflush(stdout);
}

void print_message_json(const ferry_message_t& m) {
  cJSON* j = cJSON_CreateObject();
  if (!j) std::abort();  // out of memory: nothing sensible left to print
  cJSON_AddStringToObject(j, "type", "message");
  // Ids and times stay below 2^53 (docs/protocol.md), so a double holds them exactly.
  cJSON_AddNumberToObject(j, "id", static_cast<double>(m.id));
  cJSON_AddStringToObject(j, "from", m.from);
  cJSON_AddStringToObject(j, "to", m.to);
  cJSON_AddStringToObject(j, "kind", m.kind);
  cJSON_AddStringToObject(j, "text", m.text);
  cJSON_AddStringToObject(j, "status", status_name(m.status));
  cJSON_AddNumberToObject(j, "ts", static_cast<double>(m.ts_ms));
  cJSON_AddStringToObject(j, "cid", m.local_id);
  char* s = cJSON_PrintUnformatted(j);
  if (!s) std::abort();
  std::printf("%s\n", s);
  std::fflush(stdout);
  cJSON_free(s);
  cJSON_Delete(j);
}

void print_message(const ferry_message_t& m, bool json) {
  if (json)
    print_message_json(m);
  else
    print_message_human(m);
}

void print_error(const std::string& what) { std::fprintf(stderr, "ferry: %s\n", what.c_str()); }

}  // namespace ferry::cli
