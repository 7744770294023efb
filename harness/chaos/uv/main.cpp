// ferry-chaos: a frame-aware fault proxy for ferry connections (issue 5 §1, docs/harness.md).
// Reads the options and the scenario file, starts the proxy (and the control interface), and
// on SIGTERM/SIGINT prints the JSON summary and exits 0.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "harness/chaos/core/proxy_core.h"
#include "harness/chaos/uv/control.h"
#include "harness/chaos/uv/options.h"
#include "harness/chaos/uv/proxy.h"

using namespace ferry::chaos;

namespace {

struct Runtime {
  Proxy* proxy = nullptr;
  ControlServer* control = nullptr;
  std::string summary_file;
  uv_signal_t sig[2];
};

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

// Scenario settings first, then the command line's, so a flag overrides the file.
bool build_config(const Options& o, ProxyConfig& cfg, std::string& err) {
  Settings all;
  if (!o.scenario_path.empty()) {
    std::string text;
    if (!read_file(o.scenario_path, text)) return err = "cannot read " + o.scenario_path, false;
    Scenario sc;
    if (!parse_scenario(text, sc, err)) return err = o.scenario_path + ": " + err, false;
    if (sc.has_seed) cfg.seed = sc.seed;
    all = sc.set;
    cfg.schedule = std::move(sc.schedule);
  }
  all.insert(all.end(), o.settings.begin(), o.settings.end());
  if (o.has_seed) cfg.seed = o.seed;
  cfg.max_body = o.max_frame;
  for (const auto& [k, v] : all) {
    SettingEffects fx;
    if (!apply_setting(cfg.faults, k, v, fx, err)) return false;
    if (fx.refuse_ms >= 0) cfg.refuse_ms = uint64_t(fx.refuse_ms);
    if (fx.cut_now) return err = "cut_now belongs in a schedule step", false;
  }
  return true;
}

void on_signal(uv_signal_t* s, int) {
  auto* rt = static_cast<Runtime*>(s->data);
  std::string summary = rt->proxy->core().summary_json(now_us());
  std::printf("%s\n", summary.c_str());
  std::fflush(stdout);
  if (!rt->summary_file.empty()) {
    std::ofstream f(rt->summary_file, std::ios::trunc);
    f << summary << "\n";
  }
  rt->proxy->close();
  if (rt->control) rt->control->close();
  for (uv_signal_t& h : rt->sig) uv_close(reinterpret_cast<uv_handle_t*>(&h), nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string err;
  if (!parse_options(argc, argv, o, err)) {
    std::fprintf(stderr, "ferry-chaos: %s\n%s", err.c_str(), usage_text());
    return 2;
  }
  if (o.help) {
    std::fputs(usage_text(), stdout);
    return 0;
  }
  ProxyConfig cfg;
  if (!build_config(o, cfg, err)) {
    std::fprintf(stderr, "ferry-chaos: %s\n", err.c_str());
    return 2;
  }
  FILE* log_out = stderr;
  if (!o.log_file.empty() && !(log_out = std::fopen(o.log_file.c_str(), "a"))) {
    std::fprintf(stderr, "ferry-chaos: cannot open %s\n", o.log_file.c_str());
    return 2;
  }
  uint64_t t0 = now_us();
  Proxy::Logger logger = [&](const std::string& line) {
    if (o.quiet) return;
    uint64_t ms = (now_us() - t0) / 1000;
    std::fprintf(log_out, "ferry-chaos +%llu.%03llus %s\n", (unsigned long long)(ms / 1000),
                 (unsigned long long)(ms % 1000), line.c_str());
    std::fflush(log_out);
  };

  // A write to a peer that already reset is routine for a fault proxy: take the EPIPE error
  // from the write, not a SIGPIPE that kills the process.
  std::signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  int rc = 0;
  {
    Proxy proxy(loop, std::move(cfg), logger);
    ControlServer control(loop, proxy);
    Runtime rt;
    rt.proxy = &proxy;
    rt.summary_file = o.summary_file;
    std::string bound;
    if (!proxy.set_upstream(o.upstream_host, o.upstream_port, err) ||
        !proxy.listen(o.listen_host, o.listen_port, bound, err)) {
      std::fprintf(stderr, "ferry-chaos: %s\n", err.c_str());
      proxy.close();
      rc = 1;
    } else {
      if (!o.control.empty()) {
        std::string host, cbound;
        int port = 0;
        parse_host_port(o.control, host, port);
        if (!control.listen(host, port, cbound, err)) {
          std::fprintf(stderr, "ferry-chaos: %s\n", err.c_str());
          rc = 1;
        } else {
          rt.control = &control;
          std::printf("control on %s\n", cbound.c_str());
        }
      }
      for (int i = 0; i < 2 && rc == 0; i++) {
        uv_signal_init(loop, &rt.sig[i]);
        rt.sig[i].data = &rt;
        uv_signal_start(&rt.sig[i], on_signal, i == 0 ? SIGTERM : SIGINT);
      }
      if (rc == 0) {
        logger("seed " + std::to_string(proxy.core().seed()) + ", upstream " + o.upstream_host +
               ":" + std::to_string(o.upstream_port));
        std::printf("listening on %s\n", bound.c_str());
        std::fflush(stdout);
      } else {
        proxy.close();
        control.close();
      }
    }
    uv_run(loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(loop);
  if (log_out != stderr) std::fclose(log_out);
  return rc;
}
