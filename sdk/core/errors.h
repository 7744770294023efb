// Maps the protocol's error codes (docs/protocol.md section 5) to ferry_err values.
#pragma once

#include <string_view>

namespace ferry::sdk {

// Every code the protocol defines has a mapping; an unknown code (a newer server) maps to
// FERRY_EPROTO for connection errors and FERRY_ESERVER for request errors, because the client
// cannot know whether retrying helps.
int error_from_protocol_code(std::string_view code, bool request_level);

}  // namespace ferry::sdk
