// Command-line and config-file machinery both servers share: a table maps each flag onto a
// config-file key, `--config FILE` loads a JSON object of those keys first, and flags given on
// the command line override it. Each server keeps its own keys, defaults, range checks and
// usage text in its config.cpp and hands them in as an `apply` callback; only the parsing and
// the HOST:PORT / integer checks live here.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace ferry::server {

enum class ParseResult { Run, Help, Error };

// One command-line flag and the config-file key it sets; key == nullptr marks --config.
struct Flag {
  const char* flag;
  const char* key;
};

// Applies one setting by its config-file key. Returns false with `err` set when the key is
// unknown or the value is out of range.
using ApplyFn =
    std::function<bool(const std::string& key, const std::string& value, std::string& err)>;

// Parses argv: "--flag value" or "--flag=value"; "--help"/"-h" anywhere returns Help. The
// --config file (if any) is applied first, then the flags in order, so flags override it.
// On Error, `err` says why (flag errors are prefixed with the flag's name, file errors with
// the file's path).
ParseResult parse_flags(int argc, char** argv, std::span<const Flag> flags, const ApplyFn& apply,
                        std::string& err);

// Parses a decimal integer in [min, max]; otherwise `err` names `name` and the range.
bool parse_u64(const std::string& name, const std::string& text, uint64_t min, uint64_t max,
               uint64_t& out, std::string& err);

// A light HOST:PORT shape check for config values (full parsing happens when the adapter binds
// or connects): a colon with something on both sides.
bool check_address(const std::string& key, const std::string& value, std::string& err);

// What main() does with a ParseResult: prints `usage` to stdout for Help (returns 0), or
// "<program>: <err>" to stderr for Error (returns 2); returns -1 for Run, meaning carry on.
int finish_parse(ParseResult result, const char* program, const char* usage,
                 const std::string& err);

}  // namespace ferry::server
