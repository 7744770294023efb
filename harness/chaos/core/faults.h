// The fault settings of ferry-chaos and the one place that maps a setting's name to its field.
// Command-line flags (--down-drop 0.05), scenario files ({"down_drop":0.05}) and the control
// interface (`set down_drop 0.05`) all go through apply_setting(), so a name means the same
// thing everywhere and docs/harness.md has one table to keep.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::chaos {

// Up = client → server (what the proxy reads from the accepted socket), Down = the reverse.
enum class Dir : uint8_t { Up = 0, Down = 1 };
inline const char* dir_name(Dir d) { return d == Dir::Up ? "up" : "down"; }

// Faults for one direction. Probabilities are per frame (per read chunk for a stream that is
// not ferry frames); byte thresholds count bytes forwarded in that direction on one connection.
// 0 means "off" for every field.
struct DirFaults {
  double drop = 0;
  double dup = 0;
  double reorder = 0;
  double corrupt = 0;
  double cut_prob = 0;
  uint64_t delay_ms = 0;
  uint64_t jitter_ms = 0;
  uint64_t rate = 0;  // bytes per second
  uint64_t cut_after_bytes = 0;
  uint64_t cut_after_frames = 0;
  uint64_t blackhole_after_bytes = 0;
  uint64_t blackhole_after_frames = 0;
  // Longest a reordered frame is held when fewer than its 1-3 successors arrive (a frame must
  // not wait forever behind a stream that went quiet).
  uint64_t reorder_ms = 100;
};

struct Faults {
  DirFaults dir[2];
  DirFaults& up() { return dir[0]; }
  DirFaults& down() { return dir[1]; }
  const DirFaults& up() const { return dir[0]; }
  const DirFaults& down() const { return dir[1]; }
  const DirFaults& of(Dir d) const { return dir[static_cast<int>(d)]; }
};

// One-shot actions a setting can ask for besides changing a field.
struct SettingEffects {
  bool cut_now = false;  // RST every open connection
  int64_t refuse_ms = -1;  // refuse new connections for this long from now (>= 0 when set)
};

// Applies one setting by name. `key` is a fault name with an optional `up_`/`down_` prefix
// (no prefix: both directions), or one of the actions `cut_now`, `refuse_ms`, `clear`.
// `value` is text: a number, `true`/`false`, or `MS[:JITTER]` for `delay`. Flags spell names
// with dashes (`down-drop`); dashes and underscores are the same here. On error returns false
// and explains in `err` ("down_drop: 1.5 is not a probability in [0, 1]").
bool apply_setting(Faults& faults, std::string_view key, std::string_view value,
                   SettingEffects& effects, std::string& err);

// Every accepted base name (without direction prefix), for --help and the docs test.
const std::vector<std::string>& setting_names();

}  // namespace ferry::chaos
