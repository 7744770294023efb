// Proves ferry-sim is a usable oracle: a seed replays exactly (two runs of one seed give the
// same trace hash, and different seeds give different traces), and a few seeds that exercise
// crashes of every node, cuts and partitions keep every invariant. How: run_seed() in-process,
// the same code the ferry-sim binary runs; the 1000-seed sweep is the ferry_sim_seeds ctest.
#include <gtest/gtest.h>

#include "harness/sim/world.h"

namespace ferry::sim {
namespace {

TEST(Sim, SameSeedSameTrace) {
  for (uint64_t seed : {1u, 7u, 42u}) {
    RunResult a = run_seed(seed, false);
    RunResult b = run_seed(seed, false);
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.virtual_ms, b.virtual_ms) << "seed " << seed;
    EXPECT_EQ(a.ok, b.ok) << "seed " << seed;
  }
}

TEST(Sim, DifferentSeedsDiffer) {
  EXPECT_NE(run_seed(1, false).trace_hash, run_seed(2, false).trace_hash);
}

TEST(Sim, TargetedSeedsPass) {
  uint64_t crashes = 0, chunks = 0;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    RunResult r = run_seed(seed, false);
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure << "\nreplay: ferry-sim --seed "
                      << seed << " --verbose";
    crashes += r.crashes;
    chunks += r.chunks;
  }
  // The sweep must actually exercise the fault paths it claims to.
  EXPECT_GT(crashes, 0u);
  EXPECT_GT(chunks, 0u);
}

// Pins the known SDK bug the sweep tolerates (harness/sim/checker.cpp, docs/harness.md): with
// seed 1 a sender is handed its own finished upload back as a new message after a reconnect.
// When the SDK is fixed this count drops to 0: delete this test and the checker's exception.
TEST(Sim, KnownSdkBugOwnUploadEchoSeed1) {
  RunResult r = run_seed(1, false);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.known_bug_hits, 0u);
}

}  // namespace
}  // namespace ferry::sim
