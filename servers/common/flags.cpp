// Flag and config-file parsing shared by ferry-chatd and ferry-resd (see flags.h).
#include "servers/common/flags.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "proto/json.h"

namespace ferry::server {

namespace {

bool load_file(const std::string& path, const ApplyFn& apply, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = "cannot read config file " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  proto::Json j = proto::json_parse(ss.str());
  if (!j || !cJSON_IsObject(j.get())) {
    err = path + ": not a JSON object";
    return false;
  }
  for (const cJSON* f = j->child; f; f = f->next) {
    std::string value;
    if (cJSON_IsString(f)) {
      value = f->valuestring;
    } else if (cJSON_IsNumber(f)) {
      uint64_t n = 0;
      if (!proto::json_get_u64(j.get(), f->string, n, err)) return false;
      value = std::to_string(n);
    } else {
      err = path + ": '" + f->string + "' must be a string or a number";
      return false;
    }
    if (!apply(f->string, value, err)) {
      err = path + ": " + err;
      return false;
    }
  }
  return true;
}

}  // namespace

bool parse_u64(const std::string& name, const std::string& text, uint64_t min, uint64_t max,
               uint64_t& out, std::string& err) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || text[0] == '-' || v < min || v > max) {
    err = name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
          ", got '" + text + "'";
    return false;
  }
  out = v;
  return true;
}

bool check_address(const std::string& key, const std::string& value, std::string& err) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    err = key + " must be HOST:PORT, got '" + value + "'";
    return false;
  }
  return true;
}

ParseResult parse_flags(int argc, char** argv, std::span<const Flag> flags, const ApplyFn& apply,
                        std::string& err) {
  // First pass: split "--flag value" / "--flag=value" pairs and find --config.
  std::vector<std::pair<const Flag*, std::string>> given;
  std::string config_path;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return ParseResult::Help;
    std::string name = arg, value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags) {
      if (name == f.flag) flag = &f;
    }
    if (!flag) {
      err = "unknown option '" + arg + "' (see --help)";
      return ParseResult::Error;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        err = "option " + name + " needs a value";
        return ParseResult::Error;
      }
      value = argv[++i];
    }
    if (!flag->key) {
      config_path = value;
    } else {
      given.emplace_back(flag, value);
    }
  }
  if (!config_path.empty() && !load_file(config_path, apply, err)) return ParseResult::Error;
  for (const auto& [flag, value] : given) {
    if (!apply(flag->key, value, err)) {
      err = std::string(flag->flag) + ": " + err;
      return ParseResult::Error;
    }
  }
  return ParseResult::Run;
}

int finish_parse(ParseResult result, const char* program, const char* usage,
                 const std::string& err) {
  switch (result) {
    case ParseResult::Help:
      fputs(usage, stdout);
      return 0;
    case ParseResult::Error:
      fprintf(stderr, "%s: %s\n", program, err.c_str());
      return 2;
    case ParseResult::Run:
      break;
  }
  return -1;
}

}  // namespace ferry::server
