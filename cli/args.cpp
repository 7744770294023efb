#include "cli/args.h"

#include <ferry.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::cli {
namespace {

struct CommandSpec {
  const char* name;
  size_t positionals;
  std::vector<const char*> options;  // command-specific options it accepts
  const char* usage;
  const char* description;
};

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> specs = {
      {"register",
       2,
       {},
       "ferry register USER PASSWORD",
       "Creates the account USER and logs in; the session is stored in the state directory.\n"
       "USER: 3-32 of a-z 0-9 _ . -, starting with a letter. PASSWORD: 8-1024 bytes."},
      {"login",
       2,
       {},
       "ferry login USER PASSWORD",
       "Logs in as USER and stores the session in the state directory."},
      {"send",
       2,
       {"--timeout"},
       "ferry send USER TEXT [--timeout SEC]",
       "Sends TEXT to USER and exits 0 once the server has stored it. If the server cannot\n"
       "be reached within SEC seconds (default 30) it exits 1; the message then stays in\n"
       "the outbox and goes out with the next ferry command that connects."},
      {"listen",
       0,
       {"--json", "--count", "--until-ready", "--timeout", "--download-dir"},
       "ferry listen [--json] [--count N] [--until-ready] [--timeout SEC] [--download-dir DIR]",
       "Prints incoming messages as they arrive, starting with those missed while offline:\n"
       "  [id] from → to: text\n"
       "  [id] from → to: 🖼 holiday.jpg (1.2 MiB, image/jpeg, 1280×720) uploading 37%\n"
       "and, for media messages, their upload progress and status changes (READY, ...).\n"
       "--json prints one JSON object per line: messages (type, id, from, to, kind, status,\n"
       "ts, cid, and text; media messages instead name, size, sha256, mime, width, height,\n"
       "duration_ms, progress, thumb_bytes, thumb_width, thumb_height), and\n"
       "{\"type\":\"progress\",...} and {\"type\":\"status\",...} lines.\n"
       "Exits 0 after N messages (--until-ready: once N received media messages are READY;\n"
       "N defaults to 1), or when SEC seconds pass (exit 1 if that count was not met).\n"
       "--download-dir DIR: saves each incoming media file once it is READY as\n"
       "DIR/<message id>-<name> (the name made safe: never a path), verified by its SHA-256;\n"
       "lines say where ({\"type\":\"download\",\"message_id\":...,\"status\":\"DONE\",\n"
       "\"path\":...} with --json). With --until-ready it counts files saved, not READY ones."},
      {"history",
       1,
       {"--limit", "--before", "--json"},
       "ferry history USER [--limit N] [--before ID] [--json]",
       "Prints the newest N (default 50, max 1000) messages exchanged with USER, oldest\n"
       "first; with --before ID only those older than message ID."},
      {"send-file",
       2,
       {"--kind", "--name", "--json", "--timeout", "--connections"},
       "ferry send-file USER PATH [--kind auto|image|video|file] [--name NAME] [--json] "
       "[--timeout SEC] [--connections N]",
       "Sends the file PATH to USER as a media message and exits 0 once every byte is uploaded\n"
       "and verified (READY). Images and videos get a thumbnail the receiver sees at once.\n"
       "On a terminal a progress bar shows percent, MiB, MB/s and ETA; otherwise a plain line\n"
       "every 10%. --json prints one JSON object per line: {\"type\":\"progress\",\"id\":...,\n"
       "\"message_id\":...,\"done\":...,\"total\":...,\"mb_s\":...}, {\"type\":\"status\",...,\n"
       "\"status\":\"UPLOADING\"|\"READY\"|\"FAILED\"|\"CANCELLED\"}, "
       "{\"type\":\"resume\",...} and\n"
       "{\"type\":\"waiting\",\"error\":\"FERRY_EDISKFULL\",\"detail\":...} while the upload waits on\n"
       "something that does not fail it (the server's disk is full, no resource server yet).\n"
       "--name: the name the receiver sees (default: the file's base name).\n"
       "Interrupted (Ctrl-C, a crash, a lost connection), the upload stays pending in the state\n"
       "directory: run the same command again and it resumes from what the server holds.\n"
       "--timeout SEC: give up waiting after SEC seconds (exit 1; the upload stays pending).\n"
       "--connections N: upload over at most N connections (1-16, default 16; the SDK adds\n"
       "connections only while they raise the measured throughput, 1 = one connection)."},
      {"download",
       1,
       {"--out", "--json", "--timeout"},
       "ferry download MESSAGE_ID --out PATH [--json] [--timeout SEC]",
       "Downloads the media of message MESSAGE_ID (sent or received by you) to PATH and exits 0\n"
       "once its SHA-256 matches the message's. Bytes go to PATH.part first and PATH appears\n"
       "only when complete and verified. Progress as for send-file (bar, plain lines or\n"
       "--json: {\"type\":\"progress\",...}, {\"type\":\"resume\",...} and\n"
       "{\"type\":\"status\",\"status\":\"DONE\"|\"FAILED\"|...,\"path\":...}).\n"
       "Interrupted (Ctrl-C, a crash, a lost connection), it stays pending in the state\n"
       "directory: run the same command again and it resumes from the bytes already in PATH.part.\n"
       "A message still uploading fails at once (exit 1, \"not ready\"); nothing is written."},
      {"url",
       1,
       {"--ttl", "--json"},
       "ferry url MESSAGE_ID [--ttl SEC] [--json]",
       "Prints a signed download URL for the media of message MESSAGE_ID, valid for SEC seconds\n"
       "(1-604800, default 3600). It works with curl (`curl -o FILE URL`, `curl -C - ...`) and\n"
       "browsers until it expires. --json adds the expiry, size, sha256, name and MIME type."},
      {"uploads",
       0,
       {"--json"},
       "ferry uploads [--json]",
       "Lists the pending (unfinished) uploads of this state directory: local id, recipient,\n"
       "name, size, how much the server holds and whether it is paused."},
      {"upload-pause",
       1,
       {},
       "ferry upload-pause ID",
       "Pauses the pending upload ID (a local id from `ferry uploads`). The `ferry send-file`\n"
       "carrying it stops sending within a moment and keeps waiting; the pause lasts until\n"
       "`ferry upload-resume ID`, also across runs of send-file."},
      {"upload-resume",
       1,
       {},
       "ferry upload-resume ID",
       "Resumes an upload paused with `ferry upload-pause`."},
      {"upload-cancel",
       1,
       {"--timeout"},
       "ferry upload-cancel ID [--timeout SEC]",
       "Cancels the pending upload ID: the message becomes CANCELLED for both parties and the\n"
       "resource server frees its space. Exits 0 once the server confirmed (default wait 30 s)."},
      {"logout",
       0,
       {},
       "ferry logout",
       "Revokes the stored session on the server (when reachable) and forgets it; messages\n"
       "still in the outbox are dropped."},
  };
  return specs;
}

const CommandSpec* find_command(const std::string& name) {
  for (const CommandSpec& c : commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

bool parse_number(const std::string& name, const std::string& value, uint64_t max, uint64_t& out,
                  std::string& err) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0 || v > max) {
    err = name + " needs a whole number up to " + std::to_string(max) + ", not '" + value + "'";
    return false;
  }
  out = v;
  return true;
}

// Applies one option; `value` is set for options that take one.
bool apply_option(Args& a, const std::string& name, const std::string& value, std::string& err) {
  uint64_t n = 0;
  if (name == "--server")
    a.server = value;
  else if (name == "--state")
    a.state_dir = value;
  else if (name == "--count") {
    if (!parse_number(name, value, 1ull << 53, n, err)) return false;
    a.count = n;
  } else if (name == "--timeout") {
    if (!parse_number(name, value, 1ull << 31, n, err)) return false;
    a.timeout_s = n;
  } else if (name == "--limit") {
    if (!parse_number(name, value, 1000, n, err)) return false;
    if (n == 0) return err = "--limit must be 1-1000", false;
    a.limit = n;
  } else if (name == "--kind") {
    if (value == "auto")
      a.kind = FERRY_KIND_AUTO;
    else if (value == "image")
      a.kind = FERRY_KIND_IMAGE;
    else if (value == "video")
      a.kind = FERRY_KIND_VIDEO;
    else if (value == "file")
      a.kind = FERRY_KIND_FILE;
    else
      return err = "--kind must be auto, image, video or file, not '" + value + "'", false;
  } else if (name == "--name") {
    if (value.empty()) return err = "--name must not be empty", false;
    a.name = value;
  } else if (name == "--out") {
    if (value.empty()) return err = "--out must not be empty", false;
    a.out = value;
  } else if (name == "--download-dir") {
    if (value.empty()) return err = "--download-dir must not be empty", false;
    a.download_dir = value;
  } else if (name == "--ttl") {
    if (!parse_number(name, value, 604800, n, err)) return false;
    if (n == 0) return err = "--ttl must be 1-604800 seconds", false;
    a.ttl_s = n;
  } else if (name == "--before") {
    if (!parse_number(name, value, 1ull << 53, n, err)) return false;
    a.before = n;
  } else if (name == "--connections") {
    if (!parse_number(name, value, 16, n, err)) return false;
    if (n == 0) return err = "--connections must be 1-16", false;
    a.connections = n;
  }
  return true;
}

bool takes_value(const std::string& name) {
  return name == "--server" || name == "--state" || name == "--count" || name == "--timeout" ||
         name == "--limit" || name == "--before" || name == "--kind" || name == "--name" ||
         name == "--out" || name == "--ttl" || name == "--download-dir" ||
         name == "--connections";
}

bool known_option(const std::string& name) {
  return takes_value(name) || name == "--json" || name == "--until-ready" || name == "--help" ||
         name == "-h";
}

}  // namespace

bool parse_args(int argc, char** argv, Args& a, std::string& err) {
  std::vector<std::string>
      used;  // command-specific options seen, checked once the command is known
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      if (a.command.empty() && arg != "--")
        a.command = arg;
      else if (arg != "--")
        a.positional.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (!known_option(name)) return err = "unknown option " + name, false;
    if (name == "--help" || name == "-h") {
      a.help = true;
      continue;
    }
    if (name == "--json") {
      a.json = true;
    } else if (name == "--until-ready") {
      a.until_ready = true;
    } else if (eq == std::string::npos) {
      if (i + 1 >= argc) return err = name + " needs a value", false;
      value = argv[++i];
    }
    if (!apply_option(a, name, value, err)) return false;
    if (name != "--server" && name != "--state") used.push_back(name);
  }
  if (a.command == "help") {  // `ferry help send`
    a.help = true;
    a.command = a.positional.empty() ? "" : a.positional[0];
    a.positional.clear();
  }
  if (a.command.empty()) {
    if (a.help) return true;
    return err = "no command given", false;
  }
  const CommandSpec* spec = find_command(a.command);
  if (!spec) return err = "unknown command '" + a.command + "'", false;
  if (a.help) return true;
  for (const std::string& o : used) {
    bool ok = false;
    for (const char* allowed : spec->options) ok = ok || o == allowed;
    if (!ok) return err = "'" + a.command + "' does not take " + o, false;
  }
  if (a.positional.size() != spec->positionals) {
    err = "usage: " + std::string(spec->usage);
    return false;
  }
  return true;
}

std::string help_text(const std::string& command) {
  if (const CommandSpec* c = find_command(command)) {
    return std::string("usage: ") + c->usage + "\n\n" + c->description +
           "\n\nGlobal options: --server HOST:PORT (default 127.0.0.1:7420), --state DIR "
           "(default ~/.ferry)\n";
  }
  std::string s =
      "usage: ferry [--server HOST:PORT] [--state DIR] COMMAND [ARGS] [OPTIONS]\n\n"
      "A command-line chat client for ferry-chatd.\n\n"
      "Global options:\n"
      "  --server HOST:PORT  chat server (default 127.0.0.1:7420)\n"
      "  --state DIR         where the session, outbox and sync position live (default "
      "~/.ferry)\n"
      "  --help              this text; `ferry COMMAND --help` for one command\n\n"
      "Commands:\n";
  for (const CommandSpec& c : commands()) s += std::string("  ") + c.usage + "\n";
  s += "\nExit status: 0 on success, 1 on failure, 2 on a usage error.\n";
  return s;
}

std::string resolve_state_dir(const Args& args) {
  if (!args.state_dir.empty()) return args.state_dir;
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.ferry" : std::string();
}

}  // namespace ferry::cli
