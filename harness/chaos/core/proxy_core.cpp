#include "harness/chaos/core/proxy_core.h"

#include "proto/json.h"

namespace ferry::chaos {

ProxyCore::ProxyCore(ProxyConfig cfg, uint64_t start_us)
    : cfg_(std::move(cfg)), start_us_(start_us),
      refuse_until_us_(start_us + cfg_.refuse_ms * 1000) {}

std::unique_ptr<ConnCore> ProxyCore::accept(uint64_t now_us, std::vector<std::string>& log) {
  if (refusing(now_us)) {
    stats_.refused++;
    log.push_back("refused a connection (" +
                  std::to_string((refuse_until_us_ - now_us + 999) / 1000) + " ms left)");
    return nullptr;
  }
  stats_.connections++;
  return std::make_unique<ConnCore>(cfg_.faults, stats_, cfg_.seed, next_ordinal_++,
                                    cfg_.max_body);
}

void ProxyCore::effects(const SettingEffects& fx, uint64_t now_us, ProxyActions& act) {
  if (fx.cut_now) act.cut_all = true;
  if (fx.refuse_ms >= 0) {
    refuse_until_us_ = now_us + uint64_t(fx.refuse_ms) * 1000;
    act.log.push_back("refusing new connections for " + std::to_string(fx.refuse_ms) + " ms");
  }
}

void ProxyCore::tick(uint64_t now_us, ProxyActions& act) {
  while (next_step_ < cfg_.schedule.size() &&
         start_us_ + cfg_.schedule[next_step_].at_ms * 1000 <= now_us) {
    const ScenarioStep& step = cfg_.schedule[next_step_++];
    stats_.schedule_steps++;
    SettingEffects fx;
    std::string line = "schedule at " + std::to_string(step.at_ms) + " ms:";
    for (const auto& [k, v] : step.set) {
      std::string err;  // validated by parse_scenario; a failure here is a bug, logged
      if (!apply_setting(cfg_.faults, k, v, fx, err)) line += " [" + err + "]";
      line += " " + k + "=" + v;
    }
    act.log.push_back(line);
    effects(fx, now_us, act);
  }
}

uint64_t ProxyCore::next_tick_us() const {
  if (next_step_ >= cfg_.schedule.size()) return UINT64_MAX;
  return start_us_ + cfg_.schedule[next_step_].at_ms * 1000;
}

bool ProxyCore::set(const std::string& key, const std::string& value, uint64_t now_us,
                    ProxyActions& act, std::string& err) {
  SettingEffects fx;
  if (!apply_setting(cfg_.faults, key, value, fx, err)) return false;
  effects(fx, now_us, act);
  return true;
}

namespace {

void dir_json(cJSON* parent, const char* name, const DirStats& s) {
  cJSON* o = cJSON_AddObjectToObject(parent, name);
  proto::json_set_u64(o, "frames", s.frames);
  proto::json_set_u64(o, "raw_chunks", s.raw_chunks);
  proto::json_set_u64(o, "bytes_in", s.bytes_in);
  proto::json_set_u64(o, "bytes_out", s.bytes_out);
  proto::json_set_u64(o, "drop", s.drop);
  proto::json_set_u64(o, "dup", s.dup);
  proto::json_set_u64(o, "reorder", s.reorder);
  proto::json_set_u64(o, "corrupt", s.corrupt);
  proto::json_set_u64(o, "delayed", s.delayed);
  proto::json_set_u64(o, "rate_limited", s.rate_limited);
  proto::json_set_u64(o, "cut", s.cut);
  proto::json_set_u64(o, "blackhole", s.blackhole);
  proto::json_set_u64(o, "blackholed_bytes", s.blackholed_bytes);
}

}  // namespace

std::string ProxyCore::summary_json(uint64_t now_us) const {
  proto::Json j = proto::json_object();
  proto::json_set_u64(j.get(), "seed", cfg_.seed);
  proto::json_set_u64(j.get(), "uptime_ms", (now_us - start_us_) / 1000);
  proto::json_set_u64(j.get(), "connections", stats_.connections);
  proto::json_set_u64(j.get(), "refused", stats_.refused);
  proto::json_set_u64(j.get(), "cut_now", stats_.cut_now);
  proto::json_set_u64(j.get(), "upstream_failed", stats_.upstream_failed);
  proto::json_set_u64(j.get(), "schedule_steps", stats_.schedule_steps);
  dir_json(j.get(), "up", stats_.dir[0]);
  dir_json(j.get(), "down", stats_.dir[1]);
  return proto::json_print(j.get());
}

}  // namespace ferry::chaos
