// Command-line parsing for the `ferry` CLI: global options, one command, its positionals and
// options, and the help texts. Options may come before or after the command, as
// `--name VALUE` or `--name=VALUE`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::cli {

struct Args {
  std::string server = "127.0.0.1:7420";
  std::string state_dir;  // empty = ~/.ferry
  std::string command;
  std::vector<std::string> positional;
  bool help = false;
  bool json = false;
  std::optional<uint64_t> count;
  std::optional<uint64_t> timeout_s;
  std::optional<uint64_t> limit;
  std::optional<uint64_t> before;
  int kind = 0;                             // send-file --kind: a ferry_media_kind (0 = auto)
  std::optional<std::string> name;          // send-file --name: display name for the receiver
  bool until_ready = false;                 // listen --until-ready: count READY media messages
  std::optional<std::string> out;           // download --out: the destination file
  std::optional<uint64_t> connections;     // send-file --connections: upload connections, at most
  std::optional<uint64_t> ttl_s;            // url --ttl: validity of the signed URL
  std::optional<std::string> download_dir;  // listen --download-dir: save incoming media
};

// Fills `args`; false with `err` set on a usage error (unknown command or option, bad number,
// wrong number of arguments, an option the command does not take).
bool parse_args(int argc, char** argv, Args& args, std::string& err);

// The overall help, or one command's help (empty command = overall).
std::string help_text(const std::string& command);

// ~/.ferry unless --state was given; empty when neither is available.
std::string resolve_state_dir(const Args& args);

}  // namespace ferry::cli
