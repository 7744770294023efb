// What a scenario found wrong: a list of failures, empty when it passed. ferry-scenarios prints
// them and exits non-zero; the gtest wrappers turn each into a test failure.
#pragma once

#include <string>
#include <vector>

namespace ferry::scenarios {

struct Verdict {
  std::vector<std::string> failures;

  // Records `what` (and `detail`, e.g. the tail of a log) unless `ok`. Returns `ok`, so a
  // scenario can stop where going on makes no sense: `if (!v.check(...)) return rep;`.
  bool check(bool ok, const std::string& what, const std::string& detail = "") {
    if (!ok) failures.push_back(detail.empty() ? what : what + "\n" + detail);
    return ok;
  }
  bool passed() const { return failures.empty(); }
};

}  // namespace ferry::scenarios
