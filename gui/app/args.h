// ferry-gui's command line.
#pragma once

#include <string>

namespace ferry::gui {

struct Args {
  std::string server = "127.0.0.1:7420";
  std::string state;  // default: $HOME/.ferry-gui
  std::string user, password;
  bool create = false;  // --register: register --user instead of logging in
  std::string script, screenshot, font;
  int width = 1100, height = 720;
  int bench_frames = 0;
  bool help = false;
};

// Parses argv. False with *err on a bad command line.
bool parse_args(int argc, char** argv, Args* out, std::string* err);
const char* usage_text();

}  // namespace ferry::gui
