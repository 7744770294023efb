#include "gui/app/args.h"

#include <cstdio>
#include <cstdlib>

namespace ferry::gui {

const char* usage_text() {
  return "usage: ferry-gui [--server HOST:PORT] [--state DIR] [--user U --password P "
         "[--register]]\n"
         "                 [--script FILE [--screenshot OUT.png]] [--size WxH] [--font FILE]\n"
         "                 [--bench-frames N]\n"
         "The ferry reference app (Dear ImGui). --state defaults to ~/.ferry-gui.\n"
         "--user/--password log in (or --register) once connected, unless a session is stored.\n"
         "--script plays scripted actions (docs/gui.md) and exits 0 when they all succeed,\n"
         "1 with the failing line on stderr otherwise; --screenshot saves the last frame.\n"
         "--bench-frames N fills a conversation with 10,000 messages, draws N frames while\n"
         "scrolling and prints frame-time statistics.\n";
}

bool parse_args(int argc, char** argv, Args* out, std::string* err) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      out->help = true;
      continue;
    }
    if (a == "--register") {
      out->create = true;
      continue;
    }
    if (i + 1 >= argc) {
      *err = a + " needs a value";
      return false;
    }
    std::string v = argv[++i];
    if (a == "--server")
      out->server = v;
    else if (a == "--state")
      out->state = v;
    else if (a == "--user")
      out->user = v;
    else if (a == "--password")
      out->password = v;
    else if (a == "--script")
      out->script = v;
    else if (a == "--screenshot")
      out->screenshot = v;
    else if (a == "--font")
      out->font = v;
    else if (a == "--bench-frames")
      out->bench_frames = std::atoi(v.c_str());
    else if (a == "--size") {
      if (std::sscanf(v.c_str(), "%dx%d", &out->width, &out->height) != 2 || out->width < 200 ||
          out->height < 200) {
        *err = "--size wants WxH (at least 200x200)";
        return false;
      }
    } else {
      *err = "unknown option " + a;
      return false;
    }
  }
  if (out->user.empty() != out->password.empty()) {
    *err = "--user and --password go together";
    return false;
  }
  if (out->state.empty()) {
    const char* home = std::getenv("HOME");
    if (!home || !*home) {
      *err = "no state directory: set HOME or pass --state DIR";
      return false;
    }
    out->state = std::string(home) + "/.ferry-gui";
  }
  return true;
}

}  // namespace ferry::gui
