// Proxy-wide state of ferry-chaos, sans I/O: the live fault settings, the schedule, the
// refuse window, connection ordinals and the counters. The adapter asks it whether to accept a
// connection, lets it apply due schedule steps and control commands, and prints its summary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness/chaos/core/connection.h"
#include "harness/chaos/core/faults.h"
#include "harness/chaos/core/scenario.h"
#include "harness/chaos/core/stats.h"

namespace ferry::chaos {

struct ProxyConfig {
  Faults faults;
  uint64_t seed = 0;
  uint32_t max_body = (64u << 20) + 4096;  // protocol's largest CHUNK plus slack
  uint64_t refuse_ms = 0;  // refuse new connections this long from start
  std::vector<ScenarioStep> schedule;
};

// What a schedule step or control command asks the adapter to do besides changing settings.
struct ProxyActions {
  bool cut_all = false;
  std::vector<std::string> log;
};

class ProxyCore {
 public:
  ProxyCore(ProxyConfig cfg, uint64_t start_us);

  // A new client connection: null while refusing (the adapter resets it), else its core.
  std::unique_ptr<ConnCore> accept(uint64_t now_us, std::vector<std::string>& log);
  bool refusing(uint64_t now_us) const { return now_us < refuse_until_us_; }

  // Applies every schedule step due at now_us.
  void tick(uint64_t now_us, ProxyActions& act);
  // When the next schedule step is due (UINT64_MAX: none left).
  uint64_t next_tick_us() const;
  // One setting from outside (control interface), as in a schedule step.
  bool set(const std::string& key, const std::string& value, uint64_t now_us, ProxyActions& act,
           std::string& err);

  const Faults& faults() const { return cfg_.faults; }
  Stats& stats() { return stats_; }
  uint64_t seed() const { return cfg_.seed; }
  // Counters per fault and direction, connections and bytes, as one JSON object.
  std::string summary_json(uint64_t now_us) const;

 private:
  void effects(const SettingEffects& fx, uint64_t now_us, ProxyActions& act);

  ProxyConfig cfg_;
  uint64_t start_us_;
  uint64_t refuse_until_us_;
  size_t next_step_ = 0;
  uint64_t next_ordinal_ = 0;
  Stats stats_;
};

}  // namespace ferry::chaos
