// A scenario's outcome: the one line it prints, the JSON report it writes, the Jepsen-style
// message check, and numbers out of ferry-chaos's summary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/scenarios/verdict.h"

namespace ferry::scenarios {

// A number inside a ferry-chaos summary JSON: top-level key, or dir ("up"/"down") + key.
uint64_t summary_num(const std::string& summary, const std::string& dir, const std::string& key);
// The same key summed over both directions.
uint64_t both_dirs(const std::string& summary, const std::string& key);

// Jepsen-style check of one sender → receiver conversation: every message the sender saw
// acknowledged must be present exactly once; nothing present may be unknown.
struct MessageCheck {
  std::vector<std::string> attempted;  // every text the sender tried (acked or not)
  std::vector<std::string> acked;  // the ones whose `ferry send` exited 0
  uint64_t lost = 0, duplicated = 0, unexpected = 0;
  // `received`: texts as the receiver saw them (may repeat).
  void evaluate(const std::vector<std::string>& received);
};

struct ScenarioReport {
  std::string name;
  uint64_t seed = 0;
  uint64_t file_size = 0;
  uint64_t bytes_sent = 0;  // client → server bytes the proxy read
  uint64_t bytes_resent = 0;  // bytes_sent beyond the file size (upload scenarios)
  uint64_t resumes = 0;  // connections to the proxied server beyond the first
  double seconds = 0;
  std::string hash_check = "n/a";  // "ok", "MISMATCH", "n/a"
  uint64_t messages = 0, acked = 0, lost = 0, duplicated = 0, unexpected = 0;
  std::string chaos_summary;  // the proxy's exit summary
  std::string skipped;  // why the scenario could not run here (e.g. not root); "" if it ran
  // Set when the seed injected none of the fault the scenario is about: the run passed but
  // proves nothing. Each scenario's own seed is chosen to inject it; other seeds (a sweep)
  // may not, which is not a failure of ferry.
  std::string vacuous;
  Verdict verdict;

  // Counts a Jepsen check into the report: its messages and acks, plus its lost, duplicated
  // and unexpected (added, so a second view of the same messages adds its own).
  void count(const MessageCheck& check);
  // Prints the one line (and the failures) to stdout.
  void print() const;
  // The report as one JSON object (pretty-printed).
  std::string json() const;
  // Writes <name>-seed<N>.json into dir; false if it cannot.
  bool write(const std::string& dir) const;
};

}  // namespace ferry::scenarios
