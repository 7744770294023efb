// The client side of the chat protocol's JSON bodies (docs/protocol.md sections 2-4): builds
// the HELLO and every REQUEST the client sends, and parses the objects the server returns.
// Parsing is strict about what the client relies on and lenient about extra fields, so a
// newer server can add fields without breaking older clients.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sdk/core/types.h"

namespace ferry::sdk::wire {

std::string hello_body(const std::string& agent);
std::string register_body(uint64_t rid, const std::string& user, const std::string& password);
std::string login_body(uint64_t rid, const std::string& user, const std::string& password);
std::string auth_body(uint64_t rid, const std::string& token);
std::string logout_body(uint64_t rid);
std::string send_body(uint64_t rid, const OutboxEntry& e);
std::string sync_body(uint64_t rid, uint64_t since, uint32_t limit);
std::string history_body(uint64_t rid, const std::string& peer, uint64_t before, uint32_t limit);

// Each parser returns false and fills `err` when a field the client needs is missing or has
// the wrong type.
bool parse_message(const cJSON* obj, Message& out, std::string& err);
bool parse_messages(const cJSON* obj, std::vector<Message>& out, bool& more, std::string& err);

struct ServerHello {
  uint64_t proto = 0;
  uint64_t heartbeat_ms = 0;  // 0 when the server did not say
};
bool parse_hello(const cJSON* obj, ServerHello& out, std::string& err);

}  // namespace ferry::sdk::wire
