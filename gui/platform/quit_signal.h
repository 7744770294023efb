// SIGINT/SIGTERM end the app the normal way (the loop notices within one idle wait), so the
// SDK client is destroyed cleanly and flushes what it queued.
#pragma once

namespace ferry::gui {

void install_quit_signals();
bool quit_signalled();

}  // namespace ferry::gui
