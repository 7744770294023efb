#include "harness/scenarios/catalog.h"

#ifndef FERRY_FIXTURES_DIR
#error "FERRY_FIXTURES_DIR must be defined by the build"
#endif

namespace ferry::scenarios {

const std::vector<Scenario>& catalog() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v;
    add_upload_scenarios(v);
    add_chat_scenarios(v);
    add_crash_scenarios(v);
    add_link_scenarios(v);
    return v;
  }();
  return all;
}

const Scenario* find_scenario(const std::string& name) {
  for (const Scenario& s : catalog())
    if (s.name == name) return &s;
  return nullptr;
}

static std::string& fixtures_dir() {
  static std::string dir = FERRY_FIXTURES_DIR;
  return dir;
}

void set_fixtures_dir(const std::string& dir) { fixtures_dir() = dir; }

std::string fixture(const std::string& file) { return fixtures_dir() + "/" + file; }

}  // namespace ferry::scenarios
