// ferry_strerror, ferry_err_name and the runtime version, generated from FERRY_ERRNO_MAP so
// the three can never disagree.
#include "sdk/include/ferry.h"

extern "C" {

const char* ferry_strerror(int err) {
  if (err == FERRY_OK) return "success";
#define FERRY_STRERROR_CASE(name, value, msg) \
  case value:                                 \
    return msg;
  switch (err) { FERRY_ERRNO_MAP(FERRY_STRERROR_CASE) }
#undef FERRY_STRERROR_CASE
  return "unknown error";
}

const char* ferry_err_name(int err) {
  if (err == FERRY_OK) return "FERRY_OK";
#define FERRY_ERR_NAME_CASE(name, value, msg) \
  case value:                                 \
    return "FERRY_" #name;
  switch (err) { FERRY_ERRNO_MAP(FERRY_ERR_NAME_CASE) }
#undef FERRY_ERR_NAME_CASE
  return "FERRY_EUNKNOWN";
}

unsigned int ferry_version(void) { return FERRY_VERSION_HEX; }

const char* ferry_version_string(void) { return FERRY_VERSION_STRING; }

}  // extern "C"
