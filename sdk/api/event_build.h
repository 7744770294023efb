// Flattens a core Event into one malloc'd block: the ferry_event_t, then the history's
// ferry_message_t array, then every string. One allocation means ferry_event_free() is one
// free() and no pointer inside an event can outlive it.
#pragma once

#include "sdk/core/types.h"
#include "sdk/include/ferry.h"

namespace ferry::sdk {

// Null when out of memory.
ferry_event_t* build_event(const Event& e);

}  // namespace ferry::sdk
