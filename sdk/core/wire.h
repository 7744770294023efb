// The client side of the chat protocol's JSON bodies (docs/protocol.md sections 2-4): builds
// the HELLO and every REQUEST the client sends, and parses the objects the server returns.
// Parsing is strict about what the client relies on and lenient about extra fields, so a
// newer server can add fields without breaking older clients.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sdk/core/types.h"

namespace ferry::sdk::wire {

std::string hello_body(const std::string& agent);
std::string register_body(uint64_t rid, const std::string& user, const std::string& password);
std::string login_body(uint64_t rid, const std::string& user, const std::string& password);
std::string auth_body(uint64_t rid, const std::string& token);
std::string logout_body(uint64_t rid);
std::string send_body(uint64_t rid, const OutboxEntry& e);
// Appends send_body(rid, e) to `out` (the per-message path: printed by hand, byte for byte
// what the cJSON printer gives).
void append_send_body(std::string& out, uint64_t rid, const OutboxEntry& e);
std::string sync_body(uint64_t rid, uint64_t since, uint32_t limit);
std::string history_body(uint64_t rid, const std::string& peer, uint64_t before, uint32_t limit);

// Media (docs/protocol.md section 6). `u` must be prepared (sha256 set).
std::string send_media_body(uint64_t rid, const PendingUpload& u);
std::string upload_ticket_body(uint64_t rid, uint64_t message_id);
std::string bind_hash_body(uint64_t rid, uint64_t message_id, const std::string& sha256);
std::string cancel_upload_body(uint64_t rid, uint64_t message_id);

// "image"/"video"/"file" <-> ferry_media_kind; unknown names are FERRY_KIND_FILE.
const char* media_kind_name(int kind);
int media_kind_from_name(const std::string& name);
// "sent"/"uploading"/"ready"/"cancelled"/"failed" -> ferry_msg_status; 0 when unknown.
int message_status_from_name(const std::string& name);

// The `upload` object of send_media / upload_ticket answers.
struct UploadGrant {
  std::string ticket;
  std::string resource;  // HOST:PORT of the resource server
};
bool parse_upload_grant(const cJSON* obj, UploadGrant& out, std::string& err);

// Each parser returns false and fills `err` when a field the client needs is missing or has
// the wrong type.
bool parse_message(const cJSON* obj, Message& out, std::string& err);
bool parse_messages(const cJSON* obj, std::vector<Message>& out, bool& more, std::string& err);

struct ServerHello {
  uint64_t proto = 0;
  uint64_t heartbeat_ms = 0;  // 0 when the server did not say
};
bool parse_hello(const cJSON* obj, ServerHello& out, std::string& err);

// A server's "HOST:PORT" as the chat server hands it out ("[v6]:PORT" loses its brackets);
// no colon: all host, empty port.
void split_address(const std::string& address, std::string& host, std::string& port);

}  // namespace ferry::sdk::wire
