// Every real-process scenario of the fault harness (issue 5 §3), by name: what it does, its
// default seed, and the function that plays it. ferry-scenarios runs them from the command
// line; tests/integration/scenarios_test.cpp runs each as a gtest.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/scenarios/report.h"

namespace ferry::scenarios {

struct Scenario {
  std::string name;   // e.g. "upload_drop"
  std::string group;  // "upload" (proxy before resd), "chat" (before chatd), "crash", "link"
  uint64_t seed = 0;  // the seed it runs with unless told otherwise
  std::string what;   // one line for --list
  std::function<ScenarioReport(uint64_t seed)> play;
};

const std::vector<Scenario>& catalog();
const Scenario* find_scenario(const std::string& name);

// Where the scenario files of fixtures/scenarios/ are (default: the source tree's).
void set_fixtures_dir(const std::string& dir);
std::string fixture(const std::string& file);

// Each group file adds its scenarios.
void add_upload_scenarios(std::vector<Scenario>& out);
void add_chat_scenarios(std::vector<Scenario>& out);
void add_crash_scenarios(std::vector<Scenario>& out);
void add_link_scenarios(std::vector<Scenario>& out);  // through ferry-link (root)

}  // namespace ferry::scenarios
