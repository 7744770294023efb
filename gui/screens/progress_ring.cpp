// The progress ring drawn over a bubble while its file uploads or downloads (the seed's
// design: a ring for the sender, the preview plus a percentage for the receiver).
#include <imgui.h>

#include <cmath>
#include <cstdio>

#include "gui/screens/screens.h"

namespace ferry::gui {

void draw_progress_ring(const ImVec2& c, float r, double fraction, bool paused) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float kPi = 3.14159265f;
  dl->AddCircleFilled(c, r + 3, IM_COL32(0, 0, 0, 150), 32);
  dl->AddCircle(c, r, IM_COL32(255, 255, 255, 60), 32, 4.0f);
  float f = float(fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
  if (f > 0) {
    float a0 = -kPi * 0.5f;
    dl->PathArcTo(c, r, a0, a0 + 2 * kPi * f, 32);
    dl->PathStroke(paused ? IM_COL32(160, 160, 160, 255) : IM_COL32(80, 180, 255, 255), 0, 4.0f);
  }
  char pct[16];
  if (paused)
    std::snprintf(pct, sizeof pct, "||");
  else
    std::snprintf(pct, sizeof pct, "%d%%", int(std::floor(f * 100)));
  ImVec2 ts = ImGui::CalcTextSize(pct);
  dl->AddText(ImVec2(c.x - ts.x * 0.5f, c.y - ts.y * 0.5f), IM_COL32_WHITE, pct);
}

}  // namespace ferry::gui
