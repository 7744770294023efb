// The chat view: the open conversation's bubbles and the composer.
//
// Long conversations: bubbles have different heights, which ImGuiListClipper (uniform rows)
// cannot skip correctly, so this view clips by hand the same way: it keeps each bubble's
// measured height (an estimate until it was drawn once), skips the bubbles above and below
// the visible part with one Dummy each, and draws only the visible ones. With 10,000 messages
// a frame draws a screenful of bubbles and sums 10,000 floats.
//
// Scrolling to the top asks for the next older page (ferry_history); when it arrives above
// the visible bubbles, the scroll position moves by their height so nothing jumps.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <ctime>
#include <filesystem>

#include "gui/render/imgui_glue.h"
#include "gui/screens/screens.h"

namespace ferry::gui {

std::string format_time(int64_t ts_ms) {
  time_t t = time_t(ts_ms / 1000), now = time(nullptr);
  struct tm tm_msg, tm_now;
  localtime_r(&t, &tm_msg);
  localtime_r(&now, &tm_now);
  char buf[32];
  bool today = tm_msg.tm_yday == tm_now.tm_yday && tm_msg.tm_year == tm_now.tm_year;
  strftime(buf, sizeof buf, today ? "%H:%M" : "%m-%d %H:%M", &tm_msg);
  return buf;
}

void compose_attach(UiState& ui, const std::string& path) {
  if (!ui.compose.empty()) ui.queue.push_back({false, ui.compose});
  ui.compose.clear();
  ui.queue.push_back({true, path});
}

int compose_send(UiState& ui, FerryLink& link, const std::string& peer) {
  if (peer.empty()) return 0;
  if (!ui.compose.empty()) ui.queue.push_back({false, ui.compose});
  ui.compose.clear();
  int sent = 0;
  // The order the person composed in is the order the receiver sees: ferry sends each
  // message of one client in outbox order.
  for (const ComposeItem& item : ui.queue) {
    int rc = item.is_file ? link.send_file(peer, item.value) : link.send_text(peer, item.value);
    if (rc == FERRY_OK) sent++;
  }
  ui.queue.clear();
  ui.stick_to_bottom = true;
  ui.scroll_to_bottom_frames = 3;
  return sent;
}

namespace {

// A height for a bubble never drawn: close enough that the scrollbar does not jump much.
float estimate_height(const Message& m, float row_w) {
  float line = ImGui::GetTextLineHeight();
  if (m.is_media()) return 16 + line * 2 + 8 + (m.kind == MediaKind::kFile ? 48 : 90);
  float chars_per_line = std::max(10.0f, row_w * 0.6f / (ImGui::GetFontSize() * 0.55f));
  float lines = 1 + float(m.text.size()) / chars_per_line;
  return 16 + 4 + line * (1 + lines) + 8;
}

void draw_messages(UiState& ui, AppModel& model, FerryLink& link, Conversation& c) {
  const float kGap = 8.0f;
  float row_w = ImGui::GetContentRegionAvail().x;
  if (row_w != ui.heights_width) {
    ui.heights.clear();
    ui.heights_width = row_w;
  }
  if (c.history_pending)
    ImGui::TextDisabled("loading older messages…");
  else if (!c.more_history)
    ImGui::TextDisabled("beginning of the conversation");
  float top = ImGui::GetCursorPosY();
  float scroll = ImGui::GetScrollY(), view_h = ImGui::GetWindowHeight();
  float y = top;
  float anchor_y = -1;
  size_t i = 0, n = c.messages.size();
  // Above the visible part.
  for (; i < n; i++) {
    auto it = ui.heights.find(c.messages[i].serial);
    float h = (it != ui.heights.end() ? it->second : estimate_height(c.messages[i], row_w)) + kGap;
    if (c.messages[i].serial == ui.anchor_key) anchor_y = y;
    if (y + h >= scroll) break;
    y += h;
  }
  if (y > top) ImGui::Dummy(ImVec2(row_w, y - top - ImGui::GetStyle().ItemSpacing.y));
  ImGui::SetCursorPosY(y);
  // Visible bubbles.
  for (; i < n && y < scroll + view_h; i++) {
    Message& m = c.messages[i];
    if (m.serial == ui.anchor_key) anchor_y = y;
    float h = draw_bubble(ui, model, link, m, row_w) + kGap;
    ui.heights[m.serial] = h - kGap;
    y += h;
    ImGui::SetCursorPosY(y);
  }
  // Below.
  float below = 0;
  for (; i < n; i++) {
    auto it = ui.heights.find(c.messages[i].serial);
    if (c.messages[i].serial == ui.anchor_key) anchor_y = y + below;
    below += (it != ui.heights.end() ? it->second : estimate_height(c.messages[i], row_w)) + kGap;
  }
  ImGui::Dummy(ImVec2(row_w, std::max(1.0f, below)));

  // Older history arrived above the first bubble: keep the view where it was.
  if (ui.anchor_peer == c.peer && anchor_y >= 0 && anchor_y != ui.anchor_y && !ui.stick_to_bottom)
    ImGui::SetScrollY(scroll + (anchor_y - ui.anchor_y));
  ui.anchor_peer = c.peer;
  ui.anchor_key = n ? c.messages[0].serial : 0;
  ui.anchor_y = top;

  float max_y = ImGui::GetScrollMaxY();
  if (model.revision != ui.seen_revision) {
    ui.seen_revision = model.revision;
    if (ui.stick_to_bottom) ui.scroll_to_bottom_frames = 2;
  }
  if (ui.bench_scroll_step > 0) {
    ImGui::SetScrollY(scroll + ui.bench_scroll_step >= max_y ? 0 : scroll + ui.bench_scroll_step);
  } else if (ui.scroll_to_bottom_frames > 0) {
    ImGui::SetScrollY(max_y + 10000);  // clamped by ImGui; two frames for measured heights
    ui.scroll_to_bottom_frames--;
  } else {
    ui.stick_to_bottom = scroll >= max_y - 4;
    // At the top, or the page does not fill the view yet: fetch the next older page.
    if (scroll <= 0 && c.more_history) link.load_older(c);
  }
}

void draw_composer(UiState& ui, FerryLink& link, const std::string& peer) {
  for (size_t i = 0; i < ui.queue.size(); i++) {
    const ComposeItem& item = ui.queue[i];
    std::string label = item.is_file
                            ? "[file] " + std::filesystem::path(item.value).filename().string()
                            : "[text] " + item.value.substr(0, 24);
    ImGui::PushID(int(i));
    if (ImGui::SmallButton((label + "  x").c_str())) {
      ui.queue.erase(ui.queue.begin() + long(i));
      ImGui::PopID();
      break;
    }
    ImGui::PopID();
    ImGui::SameLine();
  }
  if (!ui.queue.empty()) ImGui::NewLine();
  request_glyphs(ui.compose);
  float send_w = 80;
  ImGui::InputTextMultiline("##compose", &ui.compose,
                            ImVec2(ImGui::GetContentRegionAvail().x - send_w - 8, 56));
  bool ctrl_enter = ImGui::IsItemFocused() && ImGui::GetIO().KeyCtrl &&
                    ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter));
  ImGui::SameLine();
  if (ImGui::Button("Send", ImVec2(send_w, 56)) || ctrl_enter) compose_send(ui, link, peer);
}

void save_as_popup(UiState& ui, AppModel& model, FerryLink& link) {
  if (ui.open_save_as) {
    ImGui::OpenPopup("Save as");
    ui.open_save_as = false;
  }
  if (!ImGui::BeginPopupModal("Save as", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
  ImGui::SetNextItemWidth(420);
  ImGui::InputText("##path", &ui.save_as_path);
  if (ImGui::Button("Save")) {
    Conversation* c = model.find(model.open_peer());
    for (Message& m : c ? c->messages : std::vector<Message>{}) {
      if (m.key() != ui.save_as_key) continue;
      std::error_code ec;
      if (m.download == DownloadState::kDone)
        std::filesystem::copy_file(m.download_path, ui.save_as_path,
                                   std::filesystem::copy_options::overwrite_existing, ec);
      else
        link.download(m, ui.save_as_path);
      if (ec) model.notice = "save as: " + ec.message();
    }
    ImGui::CloseCurrentPopup();
  }
  ImGui::SameLine();
  if (ImGui::Button("Cancel")) ImGui::CloseCurrentPopup();
  ImGui::EndPopup();
}

// Answers to "Copy link" go to the clipboard when they arrive.
void take_links(UiState& ui, AppModel& model) {
  for (auto it = ui.link_requests.begin(); it != ui.link_requests.end();) {
    auto url = model.urls.find(*it);
    if (url == model.urls.end()) {
      ++it;
      continue;
    }
    if (!url->second.empty()) {
      ImGui::SetClipboardText(url->second.c_str());
      model.notice = "link copied: " + url->second;
    }
    model.urls.erase(url);
    it = ui.link_requests.erase(it);
  }
}

}  // namespace

void draw_chat(UiState& ui, AppModel& model, FerryLink& link) {
  take_links(ui, model);
  save_as_popup(ui, model, link);
  draw_image_viewer(ui);
  draw_video_viewer(ui);
  Conversation* c = model.find(model.open_peer());
  if (!c) {
    ImGui::TextDisabled("Choose a conversation, or start one by name.");
    ImGui::TextDisabled("Drop files on the window to attach them.");
    return;
  }
  ImGui::Text("%s", c->peer.c_str());
  ImGui::Separator();
  float composer_h = 56 + ImGui::GetStyle().ItemSpacing.y * 2 +
                     (ui.queue.empty() ? 0 : ImGui::GetFrameHeightWithSpacing());
  ImGui::BeginChild("messages", ImVec2(0, -composer_h), false);
  draw_messages(ui, model, link, *c);
  ImGui::EndChild();
  draw_composer(ui, link, c->peer);
}

}  // namespace ferry::gui
