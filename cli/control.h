// Pauses that span CLI processes. Each `ferry` command is its own SDK client, and the SDK
// keeps a pause only for the life of a client (ferry.h: "not paused after an app restart"),
// so `ferry upload-pause ID` leaves a marker file STATE/cli-paused/ID that the `ferry
// send-file` carrying the upload watches (and honours when it starts again). The SDK's own
// state is never touched.
#pragma once

#include <string>

namespace ferry::cli {

// Local ids are [A-Za-z0-9_-]{1,64}; anything else is refused so it can never form a path.
bool valid_local_id(const std::string& id);
bool pause_marker_exists(const std::string& state_dir, const std::string& local_id);
// Creates or removes the marker; false when the state directory cannot be written.
bool set_pause_marker(const std::string& state_dir, const std::string& local_id, bool paused);

}  // namespace ferry::cli
