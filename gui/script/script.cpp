#include "gui/script/script.h"

#include <cstdlib>
#include <sstream>

#include "gui/model/message.h"

namespace ferry::gui {

namespace {

struct Verb {
  const char* name;
  Op op;
  int min_args, max_args;  // -1: any number
};

const Verb kVerbs[] = {
    {"login", Op::kLogin, 2, 2},   {"register", Op::kRegister, 2, 2},
    {"logout", Op::kLogout, 0, 0}, {"open", Op::kOpen, 1, 1},
    {"type", Op::kType, 1, -1},    {"send", Op::kSend, 0, 0},
    {"drop", Op::kDrop, 1, 1},     {"download", Op::kDownload, 0, 1},
    {"retry", Op::kRetry, 0, 1},   {"view", Op::kView, 0, 1},
    {"pause", Op::kPause, 0, 1},   {"play", Op::kPlay, 0, 1},
    {"wait", Op::kWait, 1, 3},     {"timeout", Op::kTimeout, 1, 1},
    {"frames", Op::kFrames, 1, 1}, {"screenshot", Op::kScreenshot, 1, 1},
    {"dump", Op::kDump, 1, 1},     {"quit", Op::kQuit, 0, 0},
};

struct WaitName {
  const char* name;
  WaitKind kind;
  int min_args, max_args;
};

const WaitName kWaits[] = {
    {"connected", WaitKind::kConnected, 0, 0},   {"online", WaitKind::kOnline, 0, 0},
    {"offline", WaitKind::kOffline, 0, 0},       {"login", WaitKind::kLogin, 0, 0},
    {"synced", WaitKind::kSynced, 0, 0},         {"message", WaitKind::kMessage, 1, 1},
    {"status", WaitKind::kStatus, 1, 2},         {"conversation", WaitKind::kConversation, 1, 1},
    {"downloaded", WaitKind::kDownloaded, 0, 1}, {"progress", WaitKind::kProgress, 1, 2},
    {"paused", WaitKind::kPaused, 0, 1},         {"video", WaitKind::kVideo, 1, 1},
    {"thumbnails", WaitKind::kThumbnails, 0, 0},
};

bool positive_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  return *end == '\0' && v > 0;
}

// Checks a verb's arguments beyond their count; returns "" when fine.
std::string check_args(Action& a) {
  if (a.op == Op::kTimeout && !positive_number(a.args[0])) return "timeout wants seconds > 0";
  if (a.op == Op::kFrames && !positive_number(a.args[0])) return "frames wants a count > 0";
  if (a.op != Op::kWait) return "";
  std::string what = a.args[0];
  a.args.erase(a.args.begin());
  for (const WaitName& w : kWaits) {
    if (what != w.name) continue;
    int n = int(a.args.size());
    if (n < w.min_args || n > w.max_args) return "wrong number of arguments for wait " + what;
    a.wait = w.kind;
    if (w.kind == WaitKind::kVideo && !positive_number(a.args[0]))
      return "wait video wants a frame count > 0";
    if (w.kind == WaitKind::kProgress && !positive_number(a.args[0]))
      return "wait progress wants a percentage > 0";
    MsgStatus s;
    if (w.kind == WaitKind::kStatus && !parse_status(a.args[0], &s))
      return "unknown status '" + a.args[0] +
             "' (PENDING, SENT, FAILED, UPLOADING, READY, CANCELLED)";
    return "";
  }
  return "unknown wait '" + what + "'";
}

}  // namespace

bool split_words(const std::string& line, std::vector<std::string>* out, std::string* err) {
  out->clear();
  size_t i = 0, n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i >= n) break;
    std::string word;
    if (line[i] == '"') {
      i++;
      bool closed = false;
      while (i < n) {
        char ch = line[i++];
        if (ch == '"') {
          closed = true;
          break;
        }
        if (ch == '\\' && i < n) ch = line[i++];
        word += ch;
      }
      if (!closed) {
        *err = "unterminated quote";
        return false;
      }
    } else {
      while (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') word += line[i++];
    }
    out->push_back(word);
  }
  return true;
}

bool parse_script(const std::string& text, std::vector<Action>* out, std::string* err) {
  out->clear();
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    std::vector<std::string> words;
    std::string why;
    if (!split_words(line, &words, &why)) {
      *err = "line " + std::to_string(lineno) + ": " + why;
      return false;
    }
    if (words.empty() || words[0][0] == '#') continue;
    const Verb* verb = nullptr;
    for (const Verb& v : kVerbs)
      if (words[0] == v.name) verb = &v;
    if (!verb) {
      *err = "line " + std::to_string(lineno) + ": unknown action '" + words[0] + "'";
      return false;
    }
    Action a;
    a.op = verb->op;
    a.line = lineno;
    a.source = line;
    a.args.assign(words.begin() + 1, words.end());
    int nargs = int(a.args.size());
    if (nargs < verb->min_args || (verb->max_args >= 0 && nargs > verb->max_args)) {
      *err = "line " + std::to_string(lineno) + ": wrong number of arguments for " + words[0];
      return false;
    }
    if (a.op == Op::kType) a.args = {line.substr(line.find("type") + 5)};
    if (a.op == Op::kType && words.size() == 2) a.args = {words[1]};
    why = check_args(a);
    if (!why.empty()) {
      *err = "line " + std::to_string(lineno) + ": " + why;
      return false;
    }
    out->push_back(std::move(a));
  }
  return true;
}

}  // namespace ferry::gui
