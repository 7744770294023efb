// The chat-protocol side of downloads (docs/protocol-download.md section 2): the
// download_url request and its answer.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <string>

#include "sdk/core/types.h"

namespace ferry::sdk::wire {

// ttl_s 0 leaves the field out (the server's default, one hour).
std::string download_url_body(uint64_t rid, uint64_t message_id, uint32_t ttl_s);
// The answer's `download` object. False with `err` when a field the client needs is missing.
bool parse_download_grant(const cJSON* answer, DownloadUrl& out, std::string& err);

}  // namespace ferry::sdk::wire
