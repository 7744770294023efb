// What: issue 5 §3's real-process scenarios (harness/scenarios/catalog.h), one gtest each, so
// ctest runs them in parallel and names the one that failed. Each plays its scenario with its
// own seed (FERRY_CHAOS_SEED=N plays another), prints its line, writes its JSON report to
// $FERRY_REPORT_DIR if set, and fails with every failure the scenario's verdict holds.
// How: see harness/scenarios/*.cpp; ferry-scenarios runs the same code from the command line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "harness/scenarios/catalog.h"

using namespace ferry::scenarios;

namespace {

void play(const std::string& name) {
  const Scenario* s = find_scenario(name);
  ASSERT_NE(s, nullptr) << "no scenario named " << name;
  const char* env = std::getenv("FERRY_CHAOS_SEED");
  uint64_t seed = env && *env ? std::strtoull(env, nullptr, 10) : s->seed;
  ScenarioReport r = s->play(seed);
  r.print();
  const char* dir = std::getenv("FERRY_REPORT_DIR");
  if (dir && *dir) {
    EXPECT_TRUE(r.write(dir)) << "cannot write the report into " << dir;
  }
  if (!r.skipped.empty()) GTEST_SKIP() << r.skipped;
  // A scenario's own seed is chosen to inject its fault; without it the test proves nothing.
  if (!r.vacuous.empty()) ADD_FAILURE() << name << " seed " << seed << " is vacuous: " << r.vacuous;
  for (const std::string& f : r.verdict.failures)
    ADD_FAILURE() << name << " seed " << seed << ": " << f;
}

}  // namespace

// ---- uploads through a proxy in front of ferry-resd ----
TEST(chaos_upload, drop) { play("upload_drop"); }
TEST(chaos_upload, dup) { play("upload_dup"); }
TEST(chaos_upload, reorder) { play("upload_reorder"); }
TEST(chaos_upload, corrupt) { play("upload_corrupt"); }
TEST(chaos_upload, delay_and_jitter) { play("upload_delay_jitter"); }
TEST(chaos_upload, rate_cap) { play("upload_rate_cap"); }
TEST(chaos_upload, cut_after_bytes) { play("upload_cut_after_bytes"); }
TEST(chaos_upload, cut_prob) { play("upload_cut_prob"); }
TEST(chaos_upload, blackhole_then_heal) { play("upload_blackhole"); }
TEST(chaos_upload, refuse_connections) { play("upload_refuse"); }
TEST(chaos_upload, mixed_scenario_file) { play("upload_mixed"); }
TEST(chaos_upload, schedule_cut_and_refuse) { play("upload_schedule"); }
TEST(chaos_upload, upload_state_lost_then_link_clean) { play("upload_state_lost"); }

// ---- text messages through a proxy in front of ferry-chatd ----
TEST(chaos_chat, drop) { play("chat_drop"); }
TEST(chaos_chat, dup) { play("chat_dup"); }
TEST(chaos_chat, reorder) { play("chat_reorder"); }
TEST(chaos_chat, delay_and_jitter) { play("chat_delay_jitter"); }
TEST(chaos_chat, cut_prob) { play("chat_cut_prob"); }
TEST(chaos_chat, refuse_connections) { play("chat_refuse"); }
TEST(chaos_chat, blackhole_down_then_heal) { play("chat_blackhole"); }
TEST(chaos_chat, mixed_scenario_file) { play("chat_mixed"); }

// ---- kill -9 and a full disk ----
TEST(chaos_crash, resd_kill9_at_seeded_points_then_restart) { play("crash_resd_kill9"); }
TEST(chaos_crash, chatd_kill9_during_upload_and_texts_then_restart) { play("crash_chatd_kill9"); }
TEST(chaos_crash, client_kill9_at_seeded_point_then_rerun) { play("crash_client_kill9"); }
TEST(chaos_crash, resd_kill9_mid_download_then_restart) { play("crash_download_resd_kill9"); }
TEST(chaos_crash, download_client_kill9_then_rerun) { play("crash_download_client_kill9"); }
TEST(chaos_crash, resd_disk_full_then_freed) { play("crash_disk_full"); }

// ---- packets through ferry-link's emulated link (root) ----
TEST(chaos_link, one_percent_loss_10ms) { play("link_loss_1pct"); }
TEST(chaos_link, bursty_loss_30ms) { play("link_bursty"); }
TEST(chaos_link, five_percent_loss_50ms_every_fault) { play("link_loss_5pct"); }

// Every scenario in the catalog has a test above.
TEST(chaos_catalog, every_scenario_has_a_test) {
  const std::vector<std::string> tested = {
      "upload_drop", "upload_dup", "upload_reorder", "upload_corrupt", "upload_delay_jitter",
      "upload_rate_cap", "upload_cut_after_bytes", "upload_cut_prob", "upload_blackhole",
      "upload_refuse", "upload_mixed", "upload_schedule", "upload_state_lost", "chat_drop",
      "chat_dup", "chat_reorder", "chat_delay_jitter", "chat_cut_prob", "chat_refuse",
      "chat_blackhole", "chat_mixed", "crash_resd_kill9", "crash_chatd_kill9",
      "crash_client_kill9", "crash_download_resd_kill9", "crash_download_client_kill9",
      "crash_disk_full", "link_loss_1pct", "link_bursty", "link_loss_5pct"};
  for (const Scenario& s : catalog())
    EXPECT_NE(std::find(tested.begin(), tested.end(), s.name), tested.end()) << s.name;
  EXPECT_EQ(catalog().size(), tested.size());
}
