// Scenario files for ferry-chaos (fixtures/scenarios/*.json, format in docs/harness.md):
//
//   {"name": "...", "description": "...", "seed": 7,
//    "set": {"down_drop": 0.05, "delay": "20:10"},
//    "schedule": [{"at_ms": 2000, "set": {"down_drop": 0.1}},
//                 {"at_ms": 5000, "set": {"cut_now": true}}]}
//
// Settings are names of apply_setting() (faults.h); values are numbers, booleans or strings.
// Parsing checks every name and value up front, so a typo fails at start, not at 5 s.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry::chaos {

using Settings = std::vector<std::pair<std::string, std::string>>;  // (name, value as text)

struct ScenarioStep {
  uint64_t at_ms = 0;  // since the proxy started listening
  Settings set;
};

struct Scenario {
  std::string name;
  std::string description;
  bool has_seed = false;
  uint64_t seed = 0;
  Settings set;  // applied at start, before the command line's flags
  std::vector<ScenarioStep> schedule;  // sorted by at_ms (stable)
};

bool parse_scenario(std::string_view json, Scenario& out, std::string& err);

}  // namespace ferry::chaos
