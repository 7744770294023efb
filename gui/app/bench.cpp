// Benchmark mode (`--bench-frames N`): a conversation of 10,000 messages (text of mixed
// lengths in two languages, some media cards), scrolled through while N frames are drawn
// without vsync; prints frame-time statistics. Not a timed test: the numbers are for people.
#include <GLFW/glfw3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "gui/app/app.h"

namespace ferry::gui {

namespace {
const char* const kTexts[] = {
    "ok",
    "Are we still on for tomorrow? I can bring the projector.",
    "今天的会议改到下午三点，请大家准时参加。",
    "A longer message that wraps over several lines in the bubble, to make the layout work a "
    "little: the quick brown fox jumps over the lazy dog, twice, and then once more for luck.",
    "收到，谢谢！",
};
}  // namespace

void App::fill_bench_conversation() {
  const int kCount = 10000;
  model_.set_user("me");
  ferry_media_t media{};
  media.kind = FERRY_KIND_FILE;
  media.name = "report.pdf";
  media.mime = "application/pdf";
  media.sha256 = "";
  media.size = 1234567;
  for (int i = 1; i <= kCount; i++) {
    ferry_event_t ev{};
    ev.type = FERRY_EVENT_MESSAGE;
    ev.detail = "";
    std::string lid = "bench" + std::to_string(i);
    ferry_message_t& m = ev.u.message;
    m.id = uint64_t(i);
    m.local_id = lid.c_str();
    m.from = i % 3 == 0 ? "me" : "bench";
    m.to = i % 3 == 0 ? "bench" : "me";
    m.kind = "text";
    m.text = kTexts[i % 5];
    m.ts_ms = 1764200000000 + int64_t(i) * 60000;
    m.status = FERRY_MSG_SENT;
    if (i % 17 == 0) {
      m.media = &media;
      m.status = FERRY_MSG_READY;
    }
    model_.apply(ev);
  }
  model_.open("bench");
  model_.find("bench")->more_history = false;
}

int App::run_bench() {
  fill_bench_conversation();
  glfwSwapInterval(0);
  ui_.bench_scroll_step = 37.0f;
  std::vector<double> ms;
  for (int i = 0; i < args_.bench_frames && !window_.should_close(); i++) {
    auto t0 = std::chrono::steady_clock::now();
    frame();
    window_.wait(0);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  if (ms.empty()) return 1;
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) {
    return sorted[std::min(sorted.size() - 1, size_t(p * sorted.size()))];
  };
  double sum = 0;
  for (double v : ms) sum += v;
  std::printf(
      "bench: %zu frames, 10000 messages: mean %.2f ms, p50 %.2f, p95 %.2f, p99 %.2f, "
      "max %.2f ms (%.0f fps mean)\n",
      ms.size(), sum / double(ms.size()), pct(0.5), pct(0.95), pct(0.99), sorted.back(),
      1000.0 * double(ms.size()) / sum);
  return 0;
}

}  // namespace ferry::gui
