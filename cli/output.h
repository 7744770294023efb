// How the CLI prints messages: one line each, human-readable or JSON (cJSON). stdout is
// flushed after every line so a pipe sees each message as it arrives.
#pragma once

#include <cjson/cJSON.h>
#include <ferry.h>

#include <cstdint>
#include <string>

namespace ferry::cli {

// "[42] alice → bob: hi"
// "[43] alice → bob: 🖼 holiday.jpg (1.2 MiB, image/jpeg, 1280×720, thumbnail 320×180)
//  uploading 37%"
void print_message_human(const ferry_message_t& m);
// {"type":"message","id":42,"from":"alice","to":"bob","kind":"text","text":"hi",
//  "status":"sent","ts":1764250000000,"cid":"..."}; media messages add name, size, sha256,
// mime, width, height, duration_ms, progress, thumb_bytes (and thumb_width/height).
void print_message_json(const ferry_message_t& m);
void print_message(const ferry_message_t& m, bool json);

// "ferry: <what>" on stderr.
void print_error(const std::string& what);

const char* status_name(int msg_status);

// Prints `j` as one line on stdout, flushes, and frees it.
void print_json_line(cJSON* j);
// {"type":"status","id":LOCAL_ID,"message_id":N,"status":"READY"[,"error":..,"detail":..]}
// The caller may add fields before it is printed: use make_status_json + print_json_line.
cJSON* make_status_json(const char* local_id, uint64_t message_id, int msg_status, int err,
                        const char* detail);
// {"type":"progress","id":LOCAL_ID,"message_id":N,"done":BYTES,"total":BYTES[,"mb_s":X]}
// mb_s < 0 leaves the field out (the receiver cannot know the sender's rate).
cJSON* make_progress_json(const char* local_id, uint64_t message_id, uint64_t done, uint64_t total,
                          double mb_s);

// Never NULL: "" for a NULL string from an event.
inline const char* or_empty(const char* s) { return s ? s : ""; }

}  // namespace ferry::cli
