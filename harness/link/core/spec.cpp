// Parsing and printing of netem-like link specs (spec.h). Units follow tc(8) where it has
// them: times need us/ms/s, rates bit/kbit/mbit/gbit (SI, bits) or bps/kbps/mbps/gbps (bytes),
// probabilities need a '%' so optional arguments can be told apart from the next keyword.
#include "harness/link/core/spec.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace ferry::link {
namespace {

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) i++;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) i++;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Splits "20ms" into 20 and "ms". False when there is no leading non-negative number.
bool number_and_unit(const std::string& word, double& value, std::string& unit) {
  if (word.empty() || !(std::isdigit(static_cast<unsigned char>(word[0])) || word[0] == '.'))
    return false;
  char* end = nullptr;
  value = std::strtod(word.c_str(), &end);
  if (end == word.c_str() || !std::isfinite(value) || value < 0) return false;
  unit = lower(end);
  return true;
}

bool parse_time(const std::string& word, uint64_t& us) {
  double v;
  std::string unit;
  if (!number_and_unit(word, v, unit)) return false;
  double scale;
  if (unit == "us" || unit == "usec")
    scale = 1;
  else if (unit == "ms" || unit == "msec")
    scale = 1e3;
  else if (unit == "s" || unit == "sec")
    scale = 1e6;
  else
    return false;
  double total = v * scale;
  if (total > 3600e6) return false;  // an hour of delay is a typo, not a link
  us = static_cast<uint64_t>(std::llround(total));
  return true;
}

bool parse_percent(const std::string& word, double& p) {
  double v;
  std::string unit;
  if (!number_and_unit(word, v, unit) || unit != "%" || v > 100) return false;
  p = v / 100;
  return true;
}

bool parse_rate(const std::string& word, uint64_t& bps) {
  double v;
  std::string unit;
  if (!number_and_unit(word, v, unit)) return false;
  struct Unit {
    const char* name;
    double bits;
  };
  static const Unit units[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9},
                               {"bps", 8}, {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}};
  for (const Unit& u : units) {
    if (unit == u.name) {
      double total = v * u.bits;
      if (total < 8 || total > 1e12) return false;  // below a byte a second, above a terabit
      bps = static_cast<uint64_t>(std::llround(total));
      return true;
    }
  }
  return false;
}

bool parse_size(const std::string& word, uint64_t& bytes) {
  double v;
  std::string unit;
  if (!number_and_unit(word, v, unit)) return false;
  double scale;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "kb" || unit == "k")
    scale = 1024;
  else if (unit == "mb" || unit == "m")
    scale = 1024 * 1024;
  else
    return false;
  double total = v * scale;
  if (total < 1 || total > 1e9) return false;
  bytes = static_cast<uint64_t>(std::llround(total));
  return true;
}

// A cursor over the words, so each keyword reads its own arguments.
struct Words {
  std::vector<std::string> w;
  size_t i = 0;
  bool more() const { return i < w.size(); }
  const std::string* peek() const { return more() ? &w[i] : nullptr; }
};

bool fail(std::string& err, const std::string& what) {
  err = what;
  return false;
}

bool parse_loss(Words& in, LinkSpec& out, std::string& err) {
  const std::string* next = in.peek();
  if (next && lower(*next) == "random") next = (in.i++, in.peek());
  if (next && lower(*next) == "gemodel") {
    in.i++;
    out.gemodel = true;
    out.loss = 0;
    double p;
    if (!in.more() || !parse_percent(in.w[in.i], p))
      return fail(err, "loss gemodel: needs P as a percentage (e.g. 1%)");
    in.i++;
    out.ge_p = p;
    out.ge_r = 1 - p;  // netem's default: r = 1 - p
    out.ge_bad_loss = 1;
    out.ge_good_loss = 0;
    double* optional[] = {&out.ge_r, &out.ge_bad_loss, &out.ge_good_loss};
    for (double* field : optional) {
      if (!in.more() || !parse_percent(in.w[in.i], p)) break;
      *field = p;
      in.i++;
    }
    if (out.ge_r <= 0) return fail(err, "loss gemodel: R must be above 0%");
    return true;
  }
  double p;
  if (!next || !parse_percent(*next, p)) return fail(err, "loss: needs a percentage (e.g. 1%)");
  in.i++;
  out.loss = p;
  out.gemodel = false;
  return true;
}

bool parse_word(Words& in, LinkSpec& out, std::string& err) {
  std::string key = lower(in.w[in.i++]);
  const std::string* arg = in.peek();
  if (key == "delay") {
    if (!arg || !parse_time(*arg, out.delay_us))
      return fail(err, "delay: needs a time with a unit (e.g. 20ms)");
    in.i++;
    out.jitter_us = 0;
    if (in.more() && parse_time(in.w[in.i], out.jitter_us)) in.i++;
    return true;
  }
  if (key == "loss") return parse_loss(in, out, err);
  if (key == "duplicate" || key == "dup") {
    if (!arg || !parse_percent(*arg, out.duplicate)) return fail(err, key + ": needs a percentage");
    in.i++;
    return true;
  }
  if (key == "reorder") {
    if (!arg || !parse_percent(*arg, out.reorder)) return fail(err, "reorder: needs a percentage");
    in.i++;
    return true;
  }
  if (key == "rate") {
    if (!arg || !parse_rate(*arg, out.rate_bps))
      return fail(err, "rate: needs a rate with a unit (e.g. 100mbit, 2mbps)");
    in.i++;
    return true;
  }
  if (key == "burst") {
    if (!arg || !parse_size(*arg, out.burst_bytes))
      return fail(err, "burst: needs a size in bytes (e.g. 64kb)");
    in.i++;
    return true;
  }
  if (key == "limit" || key == "drop-first") {
    uint64_t n = 0;
    if (!arg || !parse_size(*arg, n) || n > 1000000)
      return fail(err, key + ": needs a packet count");
    (key == "limit" ? out.limit : out.drop_first) = static_cast<uint32_t>(n);
    in.i++;
    return true;
  }
  return fail(err, "unknown word '" + key + "'");
}

std::string time_text(uint64_t us) {
  if (us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us) + "us";
}

std::string rate_text(uint64_t bps) {
  if (bps % 1000000000 == 0) return std::to_string(bps / 1000000000) + "gbit";
  if (bps % 1000000 == 0) return std::to_string(bps / 1000000) + "mbit";
  if (bps % 1000 == 0) return std::to_string(bps / 1000) + "kbit";
  return std::to_string(bps) + "bit";
}

std::string percent_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g%%", p * 100);
  return buf;
}

}  // namespace

bool parse_link_spec(std::string_view text, LinkSpec& out, std::string& err) {
  LinkSpec spec;
  Words in{split_words(text)};
  while (in.more()) {
    if (!parse_word(in, spec, err)) return false;
  }
  out = spec;
  return true;
}

std::string format_link_spec(const LinkSpec& s) {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (s.delay_us || s.jitter_us)
    add("delay " + time_text(s.delay_us) + (s.jitter_us ? " " + time_text(s.jitter_us) : ""));
  if (s.gemodel) {
    add("loss gemodel " + percent_text(s.ge_p) + " " + percent_text(s.ge_r) + " " +
        percent_text(s.ge_bad_loss) + " " + percent_text(s.ge_good_loss));
  } else if (s.loss > 0) {
    add("loss " + percent_text(s.loss));
  }
  if (s.duplicate > 0) add("duplicate " + percent_text(s.duplicate));
  if (s.reorder > 0) add("reorder " + percent_text(s.reorder));
  if (s.rate_bps) add("rate " + rate_text(s.rate_bps));
  if (s.burst_bytes) add("burst " + std::to_string(s.burst_bytes) + "b");
  if (s.limit != LinkSpec{}.limit) add("limit " + std::to_string(s.limit));
  if (s.drop_first) add("drop-first " + std::to_string(s.drop_first));
  return out;
}

}  // namespace ferry::link
