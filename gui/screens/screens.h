// The screens. Each draws with Dear ImGui from the AppModel and acts through FerryLink (which
// sees only ferry.h). They are called once per frame inside one full-window ImGui window.
#pragma once

#include "gui/app/ferry_link.h"
#include "gui/model/model.h"
#include "gui/screens/ui_state.h"

struct ImVec2;

namespace ferry::gui {

// "Reconnecting…" strip while the connection is not up; nothing once it is.
void draw_banner(const AppModel& model);
void draw_login(UiState& ui, AppModel& model, FerryLink& link);
void draw_conversations(UiState& ui, AppModel& model, FerryLink& link);
void draw_chat(UiState& ui, AppModel& model, FerryLink& link);

// The full-size view of a downloaded image (a modal over the window) while ui.viewer_path is
// set; a click or Escape closes it.
void draw_image_viewer(UiState& ui);
// In-app playback of a downloaded video (play/pause, seek bar) while ui.video is open.
void draw_video_viewer(UiState& ui);
// What a click on a downloaded media bubble does: images open in the viewer, videos play in
// the app, other files open in the desktop's application for them.
void open_downloaded(UiState& ui, const Message& m);

// One bubble at the cursor, full row width `row_w`. Returns the height it took.
float draw_bubble(UiState& ui, AppModel& model, FerryLink& link, Message& m, float row_w);
// A progress ring of radius r at center c with the percentage inside; `paused` draws it dim.
void draw_progress_ring(const ImVec2& c, float r, double fraction, bool paused);

// The composer's actions (the Send button, a drop; also used by scripts).
void compose_attach(UiState& ui, const std::string& path);
// Sends the queued items and the typed text in order to peer. Returns the number sent.
int compose_send(UiState& ui, FerryLink& link, const std::string& peer);

// "14:03", or "11-27 14:03" for another day.
std::string format_time(int64_t ts_ms);

}  // namespace ferry::gui
