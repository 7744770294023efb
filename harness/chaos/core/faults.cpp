#include "harness/chaos/core/faults.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace ferry::chaos {
namespace {

std::string normalize(std::string_view key) {
  std::string k(key);
  for (char& c : k)
    if (c == '-') c = '_';
  return k;
}

bool parse_double(std::string_view text, double& out) {
  std::string s(text);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size() && std::isfinite(out);
}

bool parse_u64(std::string_view text, uint64_t& out) {
  std::string s(text);
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) {
    // Scenario files print numbers through cJSON as doubles ("1048576" or "1e+06").
    double d;
    if (!parse_double(text, d) || d < 0 || d > 9.0e15 || d != std::floor(d)) return false;
    out = static_cast<uint64_t>(d);
    return true;
  }
  out = v;
  return true;
}

bool parse_bool(std::string_view text, bool& out) {
  if (text == "true" || text == "1") return out = true, true;
  if (text == "false" || text == "0") return out = false, true;
  return false;
}

enum class Kind { Prob, U64, Delay };
struct Field {
  const char* name;
  Kind kind;
  double DirFaults::*prob;
  uint64_t DirFaults::*num;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"drop", Kind::Prob, &DirFaults::drop, nullptr},
      {"dup", Kind::Prob, &DirFaults::dup, nullptr},
      {"reorder", Kind::Prob, &DirFaults::reorder, nullptr},
      {"corrupt", Kind::Prob, &DirFaults::corrupt, nullptr},
      {"cut_prob", Kind::Prob, &DirFaults::cut_prob, nullptr},
      {"delay", Kind::Delay, nullptr, nullptr},
      {"delay_ms", Kind::U64, nullptr, &DirFaults::delay_ms},
      {"jitter_ms", Kind::U64, nullptr, &DirFaults::jitter_ms},
      {"rate", Kind::U64, nullptr, &DirFaults::rate},
      {"cut_after_bytes", Kind::U64, nullptr, &DirFaults::cut_after_bytes},
      {"cut_after_frames", Kind::U64, nullptr, &DirFaults::cut_after_frames},
      {"blackhole_after_bytes", Kind::U64, nullptr, &DirFaults::blackhole_after_bytes},
      {"blackhole_after_frames", Kind::U64, nullptr, &DirFaults::blackhole_after_frames},
      {"reorder_ms", Kind::U64, nullptr, &DirFaults::reorder_ms},
  };
  return f;
}

bool set_field(const Field& f, DirFaults& d, std::string_view key, std::string_view value,
               std::string& err) {
  switch (f.kind) {
    case Kind::Prob: {
      double p;
      if (!parse_double(value, p) || p < 0 || p > 1)
        return err = std::string(key) + ": " + std::string(value) +
                     " is not a probability in [0, 1]",
               false;
      d.*f.prob = p;
      return true;
    }
    case Kind::U64: {
      uint64_t v;
      if (!parse_u64(value, v))
        return err = std::string(key) + ": " + std::string(value) +
                     " is not a non-negative integer",
               false;
      d.*f.num = v;
      return true;
    }
    case Kind::Delay: {
      size_t colon = value.find(':');
      uint64_t ms = 0, jitter = 0;
      bool ok = parse_u64(value.substr(0, colon), ms) &&
                (colon == std::string_view::npos || parse_u64(value.substr(colon + 1), jitter));
      if (!ok)
        return err = std::string(key) + ": '" + std::string(value) + "' is not MS or MS:JITTER_MS",
               false;
      d.delay_ms = ms;
      d.jitter_ms = jitter;
      return true;
    }
  }
  return false;
}

}  // namespace

bool apply_setting(Faults& faults, std::string_view key_in, std::string_view value,
                   SettingEffects& effects, std::string& err) {
  std::string key = normalize(key_in);
  if (key == "cut_now") {
    bool b;
    if (!parse_bool(value, b)) return err = "cut_now: expected true or false", false;
    effects.cut_now = effects.cut_now || b;
    return true;
  }
  if (key == "refuse_ms") {
    uint64_t ms;
    if (!parse_u64(value, ms)) return err = "refuse_ms: expected milliseconds", false;
    effects.refuse_ms = static_cast<int64_t>(ms);
    return true;
  }
  if (key == "clear") {
    bool b;
    if (!parse_bool(value, b)) return err = "clear: expected true or false", false;
    if (b) faults = Faults{};
    return true;
  }
  int first = 0, last = 1;
  std::string base = key;
  if (key.rfind("up_", 0) == 0) {
    base = key.substr(3);
    last = 0;
  } else if (key.rfind("down_", 0) == 0) {
    base = key.substr(5);
    first = 1;
  }
  for (const Field& f : fields()) {
    if (base != f.name) continue;
    // Validate once into a scratch copy so a bad value changes neither direction.
    DirFaults scratch;
    if (!set_field(f, scratch, key, value, err)) return false;
    for (int d = first; d <= last; d++) set_field(f, faults.dir[d], key, value, err);
    return true;
  }
  err = "unknown setting '" + std::string(key_in) + "'";
  return false;
}

const std::vector<std::string>& setting_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const Field& f : fields()) n.push_back(f.name);
    n.insert(n.end(), {"cut_now", "refuse_ms", "clear"});
    return n;
  }();
  return names;
}

}  // namespace ferry::chaos
