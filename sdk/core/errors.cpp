// Protocol error code -> ferry_err. The table is the single place that decides what an app
// sees for each server answer; docs/errors.md mirrors it.
#include "sdk/core/errors.h"

#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

struct Mapping {
  std::string_view code;
  int err;
};

// Codes that only a buggy client can provoke map to FERRY_EPROTO: the app cannot fix them,
// and they mean client and server disagree about the protocol.
constexpr Mapping kMappings[] = {
    {"frame_too_large", FERRY_EPROTO},
    {"bad_frame_type", FERRY_EPROTO},
    {"hello_required", FERRY_EPROTO},
    {"version_mismatch", FERRY_EVERSION},
    {"bad_hello", FERRY_EPROTO},
    {"unexpected_frame", FERRY_EPROTO},
    {"idle_timeout", FERRY_EIDLE},
    {"slow_consumer", FERRY_ESLOW},
    // The server is going away on purpose; the client reconnects with backoff.
    {"shutting_down", FERRY_ESERVER},
    {"bad_json", FERRY_EPROTO},
    {"bad_request", FERRY_EPROTO},
    {"unknown_field", FERRY_EPROTO},
    {"unknown_op", FERRY_EPROTO},
    {"not_authenticated", FERRY_ENOTAUTH},
    {"already_authenticated", FERRY_EPROTO},
    {"bad_username", FERRY_EBADUSER},
    {"bad_password", FERRY_EBADPASSWORD},
    {"user_exists", FERRY_EUSEREXISTS},
    {"auth_failed", FERRY_EAUTH},
    {"unknown_user", FERRY_EUNKNOWNUSER},
    {"bad_text", FERRY_EBADTEXT},
    {"cid_conflict", FERRY_EPROTO},
    {"too_many_errors", FERRY_EPROTO},
    {"internal", FERRY_ESERVER},
    // Media (docs/protocol.md section 6).
    {"bad_media", FERRY_EINVAL},
    {"no_resource_server", FERRY_ENORESOURCE},
    {"unknown_message", FERRY_ENOTFOUND},
    {"not_uploading", FERRY_ENOTFOUND},
    // Downloads (docs/protocol-download.md section 2).
    {"not_ready", FERRY_ENOTREADY},
};

}  // namespace

int error_from_protocol_code(std::string_view code, bool request_level) {
  for (const Mapping& m : kMappings) {
    if (m.code == code) return m.err;
  }
  return request_level ? FERRY_ESERVER : FERRY_EPROTO;
}

}  // namespace ferry::sdk
