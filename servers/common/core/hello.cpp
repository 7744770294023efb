// HELLO and ERROR bodies for both servers (see hello.h).
#include "servers/common/core/hello.h"

#include "proto/frame.h"
#include "proto/json.h"

namespace ferry::server {

bool hello_check(std::string_view body, HelloProblem& problem) {
  proto::Json j = proto::json_parse(body);
  std::string err, agent;
  uint64_t version = 0;
  if (!j || !cJSON_IsObject(j.get())) {
    problem = {"bad_hello", "HELLO body is not a JSON object"};
    return false;
  }
  if (!proto::json_only_fields(j.get(), {"proto", "agent"}, err) ||
      !proto::json_get_u64(j.get(), "proto", version, err) ||
      !proto::json_opt_string(j.get(), "agent", agent, err)) {
    problem = {"bad_hello", err};
    return false;
  }
  if (version != proto::kProtocolVersion) {
    problem = {"version_mismatch", "server speaks protocol " +
                                       std::to_string(proto::kProtocolVersion) +
                                       ", client asked for " + std::to_string(version)};
    return false;
  }
  return true;
}

std::string hello_reply_body(const HelloReply& reply) {
  proto::Json h = proto::json_object();
  proto::json_set_u64(h.get(), "proto", proto::kProtocolVersion);
  proto::json_set_string(h.get(), "server", reply.server);
  proto::json_set_u64(h.get(), "max_frame", reply.max_frame);
  proto::json_set_i64(h.get(), "heartbeat_ms", reply.heartbeat_ms);
  proto::json_set_i64(h.get(), "idle_timeout_ms", reply.idle_timeout_ms);
  if (!reply.challenge.empty()) proto::json_set_string(h.get(), "challenge", reply.challenge);
  return proto::json_print(h.get());
}

std::string error_body(const char* code, const std::string& message, bool fatal) {
  proto::Json e = proto::json_object();
  proto::json_set_string(e.get(), "code", code);
  proto::json_set_string(e.get(), "message", message);
  proto::json_set_bool(e.get(), "fatal", fatal);
  return proto::json_print(e.get());
}

}  // namespace ferry::server
