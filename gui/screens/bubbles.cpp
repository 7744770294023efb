// One chat bubble: own messages on the right, the peer's on the left, with the sender's name,
// the time and a status line. Media bubbles show the thumbnail the message carries (decoded
// off the UI thread by the TextureCache; at most 160x90, aspect kept), a play mark and the
// duration for videos, a card with name and size for other files, and a progress ring while
// the file uploads or downloads.
//
// Mouse: a click on the ring pauses/resumes the transfer; a click on a FAILED bubble of ours
// sends it again; a click on a READY media bubble downloads it, or opens it once downloaded.
// The context menu cancels, opens, saves as, or copies a link.
#include <imgui.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <thread>

#include "gui/render/imgui_glue.h"
#include "gui/render/texture_cache.h"
#include "gui/render/video_player.h"
#include "gui/screens/screens.h"

extern char** environ;

namespace ferry::gui {

namespace {

const float kPad = 8.0f;
const float kThumbW = 160.0f, kThumbH = 90.0f;

// Hands a downloaded file to the desktop's opener; a thread reaps the child.
void open_file(const std::string& path) {
  pid_t pid = 0;
  const char* argv[] = {"xdg-open", path.c_str(), nullptr};
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr, const_cast<char**>(argv), environ) == 0)
    std::thread([pid] { waitpid(pid, nullptr, 0); }).detach();
}

bool own(const AppModel& model, const Message& m) { return m.from == model.user(); }

bool uploading(const Message& m) {
  return m.is_media() && (m.status == MsgStatus::kPending || m.status == MsgStatus::kUploading);
}

bool downloading(const Message& m) {
  return m.download != DownloadState::kNone && m.download != DownloadState::kDone &&
         m.download != DownloadState::kFailed && m.download != DownloadState::kCancelled;
}

// The box a media preview takes: the thumbnail's aspect fitted into 160x90.
ImVec2 media_box(const Message& m, const Texture* tex) {
  if (m.kind == MediaKind::kFile) return ImVec2(230, 48);
  float w = float(tex ? tex->w : m.width), h = float(tex ? tex->h : m.height);
  if (w <= 0 || h <= 0) return ImVec2(kThumbW, kThumbH);
  float s = std::min(kThumbW / w, kThumbH / h);
  return ImVec2(std::max(24.0f, w * s), std::max(24.0f, h * s));
}

std::string percent(double f) { return std::to_string(int(f * 100)) + "%"; }

std::string status_line(const AppModel& model, const Message& m) {
  bool mine = own(model, m);
  if (m.status == MsgStatus::kFailed) {
    std::string why = m.error ? std::string(" (") + ferry_strerror(m.error) + ")" : "";
    return mine ? "failed" + why + " — click to retry" : "failed" + why;
  }
  if (!m.is_media()) {
    if (!mine) return "";
    return m.status == MsgStatus::kPending ? "sending…" : "sent";
  }
  if (m.status == MsgStatus::kCancelled) return "cancelled";
  if (m.status == MsgStatus::kPending)
    return mine && m.upload_done == 0 ? "preparing…" : "sending…";
  if (m.status == MsgStatus::kUploading)
    return (m.upload_paused ? "paused " : "uploading ") + percent(m.upload_fraction());
  if (downloading(m))
    return (m.download == DownloadState::kPaused ? "paused " : "downloading ") +
           percent(m.download_fraction());
  if (m.download == DownloadState::kDone) return "downloaded — click to open";
  return mine ? "ready" : "ready — click to download";
}

void draw_media(const Message& m, const Texture* tex, ImVec2 p, ImVec2 box) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImVec2 q(p.x + box.x, p.y + box.y);
  if (m.kind == MediaKind::kFile) {
    dl->AddRectFilled(p, q, IM_COL32(255, 255, 255, 25), 4.0f);
    dl->AddRectFilled(ImVec2(p.x + 8, p.y + 8), ImVec2(p.x + 34, p.y + 40),
                      IM_COL32(120, 160, 220, 255), 3.0f);
    std::string size = human_size(m.size);
    ImVec4 clip(p.x, p.y, q.x - 4, q.y);
    dl->AddText(ImGui::GetFont(), ImGui::GetFontSize(), ImVec2(p.x + 42, p.y + 4),
                ImGui::GetColorU32(ImGuiCol_Text), m.name.c_str(), nullptr, 0, &clip);
    dl->AddText(ImVec2(p.x + 42, p.y + 6 + ImGui::GetFontSize()),
                ImGui::GetColorU32(ImGuiCol_TextDisabled), size.c_str());
    return;
  }
  if (tex)
    dl->AddImage(reinterpret_cast<ImTextureID>(static_cast<intptr_t>(tex->id)), p, q);
  else
    dl->AddRectFilled(p, q, IM_COL32(60, 64, 72, 255), 2.0f);
  if (m.kind == MediaKind::kVideo) {
    ImVec2 c((p.x + q.x) * 0.5f, (p.y + q.y) * 0.5f);
    dl->AddCircleFilled(c, 16, IM_COL32(0, 0, 0, 140), 24);
    dl->AddTriangleFilled(ImVec2(c.x - 6, c.y - 9), ImVec2(c.x - 6, c.y + 9), ImVec2(c.x + 10, c.y),
                          IM_COL32_WHITE);
    std::string d = human_duration(m.duration_ms);
    ImVec2 ts = ImGui::CalcTextSize(d.c_str());
    dl->AddRectFilled(ImVec2(q.x - ts.x - 6, q.y - ts.y - 4), q, IM_COL32(0, 0, 0, 160), 2.0f);
    dl->AddText(ImVec2(q.x - ts.x - 3, q.y - ts.y - 2), IM_COL32_WHITE, d.c_str());
  }
}

void context_menu(UiState& ui, AppModel& model, FerryLink& link, Message& m) {
  if (!ImGui::BeginPopupContextItem("ctx")) return;
  bool can_cancel = (own(model, m) && uploading(m)) || downloading(m);
  if (ImGui::MenuItem("Cancel", nullptr, false, can_cancel)) link.cancel(m);
  bool have_file = m.download == DownloadState::kDone || !m.local_path.empty();
  if (ImGui::MenuItem("Open", nullptr, false, have_file))
    open_file(m.download == DownloadState::kDone ? m.download_path : m.local_path);
  bool ready = m.status == MsgStatus::kReady;
  if (ImGui::MenuItem("Save as…", nullptr, false, ready)) {
    ui.open_save_as = true;
    ui.save_as_key = m.key();
    ui.save_as_path = link.state_dir() + "/" + m.name;
  }
  if (ImGui::MenuItem("Copy link", nullptr, false, ready)) {
    uint64_t rid = link.request_link(m);
    if (rid) ui.link_requests.insert(rid);
  }
  if (!m.is_media() && ImGui::MenuItem("Copy text")) ImGui::SetClipboardText(m.text.c_str());
  ImGui::EndPopup();
}

// What a left click on the bubble does (ring: pause/resume; else retry/download/open).
void on_click(UiState& ui, AppModel& model, FerryLink& link, Message& m, bool on_ring) {
  if (on_ring) {
    link.toggle_pause(m);
  } else if (m.status == MsgStatus::kFailed && own(model, m)) {
    link.retry(m);
  } else if (m.is_media() && m.status == MsgStatus::kReady) {
    if (m.download == DownloadState::kDone)
      open_downloaded(ui, m);
    else if (!downloading(m))
      link.download(m);
  }
}

}  // namespace

void open_downloaded(UiState& ui, const Message& m) {
  if (m.kind == MediaKind::kImage) {
    ui.viewer_path = m.download_path;
    ui.viewer_title = m.name + "  (" + std::to_string(m.width) + "x" + std::to_string(m.height) +
                      ", " + human_size(m.size) + ")";
    ui.open_viewer = true;
  } else if (m.kind == MediaKind::kVideo && ui.video) {
    std::string why;
    ui.video_title = m.name + "  (" + human_duration(m.duration_ms) + ")";
    ui.open_video = ui.video->open(m.download_path, &why);
    if (!ui.open_video) open_file(m.download_path);  // libav cannot: let the desktop try
  } else {
    open_file(m.download_path);
  }
}

float draw_bubble(UiState& ui, AppModel& model, FerryLink& link, Message& m, float row_w) {
  bool mine = own(model, m);
  float max_w = std::max(120.0f, row_w * 0.68f);
  float line_h = ImGui::GetTextLineHeight();
  std::string header = m.from + (m.ts_ms ? "  " + format_time(m.ts_ms) : "");
  std::string status = status_line(model, m);
  request_glyphs(header);
  request_glyphs(m.is_media() ? m.name : m.text);
  const Texture* tex = m.is_media() && m.kind != MediaKind::kFile && ui.textures
                           ? ui.textures->get(m.key(), m.thumb)
                           : nullptr;
  ImVec2 content = m.is_media()
                       ? media_box(m, tex)
                       : ImGui::CalcTextSize(m.text.c_str(), nullptr, false, max_w - 2 * kPad);
  float w = std::max({content.x, ImGui::CalcTextSize(header.c_str()).x,
                      ImGui::CalcTextSize(status.c_str()).x}) +
            2 * kPad;
  float h = kPad + line_h + 4 + content.y + (status.empty() ? 0 : 4 + line_h) + kPad;

  ImVec2 row = ImGui::GetCursorScreenPos();
  ImVec2 p(mine ? row.x + row_w - w - 4 : row.x + 4, row.y);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  ImU32 bg = mine ? IM_COL32(38, 92, 66, 255) : IM_COL32(52, 56, 66, 255);
  if (m.status == MsgStatus::kFailed) bg = IM_COL32(110, 40, 40, 255);
  dl->AddRectFilled(p, ImVec2(p.x + w, p.y + h), bg, 8.0f);
  ImU32 dim = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  dl->AddText(ImVec2(p.x + kPad, p.y + kPad), dim, header.c_str());
  ImVec2 cp(p.x + kPad, p.y + kPad + line_h + 4);
  if (m.is_media()) {
    draw_media(m, tex, cp, content);
  } else {
    dl->AddText(ImGui::GetFont(), ImGui::GetFontSize(), cp, ImGui::GetColorU32(ImGuiCol_Text),
                m.text.c_str(), nullptr, max_w - 2 * kPad);
  }
  if (!status.empty()) {
    ImU32 col = m.status == MsgStatus::kFailed ? IM_COL32(255, 150, 140, 255) : dim;
    dl->AddText(ImVec2(p.x + kPad, cp.y + content.y + 4), col, status.c_str());
  }

  // The progress ring over the preview, while bytes move (paused counts as moving).
  bool ring =
      (uploading(m) && m.status != MsgStatus::kPending) || (mine && uploading(m)) || downloading(m);
  ImVec2 rc(cp.x + content.x * 0.5f, cp.y + content.y * 0.5f);
  float rr = std::min(20.0f, content.y * 0.5f - 2);
  if (m.kind == MediaKind::kFile) rc = ImVec2(cp.x + 21, cp.y + 24);
  if (ring) {
    bool paused = downloading(m) ? m.download == DownloadState::kPaused : m.upload_paused;
    double f = downloading(m) ? m.download_fraction() : m.upload_fraction();
    draw_progress_ring(rc, rr, f, paused);
  }

  ImGui::SetCursorScreenPos(p);
  ImGui::PushID(m.key().c_str());
  if (ImGui::InvisibleButton("bubble", ImVec2(w, h), ImGuiButtonFlags_MouseButtonLeft)) {
    ImVec2 mouse = ImGui::GetIO().MousePos;
    float dx = mouse.x - rc.x, dy = mouse.y - rc.y;
    on_click(ui, model, link, m, ring && dx * dx + dy * dy <= (rr + 4) * (rr + 4));
  }
  if (ImGui::IsItemHovered() && m.is_media())
    ImGui::SetTooltip("%s\n%s, %s", m.name.c_str(), m.mime.c_str(), human_size(m.size).c_str());
  context_menu(ui, model, link, m);
  ImGui::PopID();
  ImGui::SetCursorScreenPos(ImVec2(row.x, row.y + h));
  return h;
}

}  // namespace ferry::gui
