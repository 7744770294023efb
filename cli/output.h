// How the CLI prints messages: one line each, human-readable or JSON (cJSON). stdout is
// flushed after every line so a pipe sees each message as it arrives.
#pragma once

#include <ferry.h>

#include <string>

namespace ferry::cli {

// "[42] alice → bob: hi"
void print_message_human(const ferry_message_t& m);
// {"type":"message","id":42,"from":"alice","to":"bob","kind":"text","text":"hi",
//  "status":"sent","ts":1764250000000,"cid":"..."}
void print_message_json(const ferry_message_t& m);
void print_message(const ferry_message_t& m, bool json);

// "ferry: <what>" on stderr.
void print_error(const std::string& what);

const char* status_name(int msg_status);

}  // namespace ferry::cli
