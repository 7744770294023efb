// ferry-gui: the Dear ImGui reference app. See docs/gui.md.
#include <cstdio>

#include "gui/app/app.h"

int main(int argc, char** argv) {
  ferry::gui::Args args;
  std::string err;
  if (!ferry::gui::parse_args(argc, argv, &args, &err)) {
    std::fprintf(stderr, "ferry-gui: %s\n%s", err.c_str(), ferry::gui::usage_text());
    return 2;
  }
  if (args.help) {
    std::fputs(ferry::gui::usage_text(), stdout);
    return 0;
  }
  ferry::gui::App app(std::move(args));
  return app.run();
}
