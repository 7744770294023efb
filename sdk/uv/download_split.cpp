// DownloadIo, the split side (download_io.h, sdk/core/download_segments.h): when and how a
// running fetch becomes several ranged requests, what the parts hold, and how a free
// connection helps the part expected to finish last.
#include <cmath>
#include <cstdio>

#include "sdk/include/ferry.h"
#include "sdk/uv/download_transfer.h"
#include "sdk/uv/segments_file.h"

namespace ferry::sdk {

// The first answer of an unsplit fetch came: on a long path, the rest of the file is cut
// into segments, each fetched over a connection of its own; the running transfer goes on
// with the first and stops where the second begins (download_segments.h).
void DownloadIo::try_split(Fetch& f) {
  f.split_due = false;
  f.may_split = false;
  Transfer* t = f.parts.empty() ? nullptr : f.parts[0].get();
  if (!t || t->done || !t->easy) return;
  uint64_t pos = t->pos;
  if (pos >= f.job.size || unsplittable_.count(f.job.partial)) return;
  uint32_t n = segments_for(segment_policy_, f.rtt_us, f.job.size - pos, forced_segments_);
  if (n < 2) return;
  f.segs = split_segments(f.job.size, pos, n);
  t->end = f.segs[0].end;
  // Held is what is written, not what the writer was handed. The record exists (durably)
  // before any byte lands beyond the partial's prefix.
  f.segs[0].done = std::min(t->on_disk(), f.segs[0].end);
  std::string detail;
  if (!write_segments_file(segments_path(f.job.partial), encode_segments(f.job.size, f.segs),
                           true, detail)) {
    std::fprintf(stderr, "ferry: %s; fetching over one connection\n", detail.c_str());
    f.segs.clear();
    t->end = 0;
    return;
  }
  f.saved_ms = now();
  f.parts.resize(n);
  for (uint32_t i = 1; i < n; i++) start_transfer(f, i, f.segs[i].start, f.segs[i].end, "", "");
}

// A part holds what its transfer has written (never what the writer was only handed).
void DownloadIo::note_done(Fetch& f, const Transfer& t) {
  Segment& s = f.segs[t.seg];
  uint64_t disk = t.on_disk();
  if (disk > s.next()) s.done = std::min(disk, s.end) - s.start;
}

void DownloadIo::note_all(Fetch& f) {
  for (auto& t : f.parts)
    if (t) note_done(f, *t);
}

// Rewrites the record with what every part holds now.
void DownloadIo::save_segments(Fetch& f, bool durable) {
  note_all(f);
  std::string detail;
  if (!write_segments_file(segments_path(f.job.partial), encode_segments(f.job.size, f.segs),
                           durable, detail)) {
    // Not fatal: without a record the next fetch starts over, the bytes are fetched again.
    std::fprintf(stderr, "ferry: %s\n", detail.c_str());
  }
  f.saved_ms = now();
}

// A connection is free: it helps the transfer expected to finish last (one in loss
// recovery, or one whose SYN or request was lost and that has brought nothing for four round
// trips), if a new connection would end it sooner. A new connection needs two round trips to
// connect and ask, then slow start from ten segments. Either it takes the second half of
// what that transfer still has to bring (which then stops halfway), or, when that is faster
// still (a stuck transfer, a short remainder), all of it: the slow transfer is dropped and
// its segment asked for again from what it holds. Bytes already in flight to the dropped or
// cut connection are the price. Without this a download ends when its slowest part does.
void DownloadIo::steal(Fetch& f) {
  if (f.rtt_us == 0) return;
  const double rtt = static_cast<double>(f.rtt_us) / 1e6;
  auto fresh_s = [rtt](uint64_t bytes) {
    return rtt * (2 + std::log2(1 + static_cast<double>(bytes) / (10 * 1448)));
  };
  uint64_t ms = now();
  Transfer* from = nullptr;
  double from_s = 0;  // its time to finish at the rate it has shown
  for (auto& t : f.parts) {
    if (!t || t->done || t->end == 0 || t->pos >= t->end) continue;
    double took = static_cast<double>(ms - t->started_ms) / 1000.0;
    uint64_t got = t->pos - t->requested;
    double left_s = 1e9;  // stuck
    if (got > 0) {
      left_s = static_cast<double>(t->end - t->pos) * took / static_cast<double>(got);
    } else if (took < 4 * rtt) {
      continue;  // too young to judge
    }
    if (!from || left_s > from_s) {
      from = t.get();
      from_s = left_s;
    }
  }
  if (!from) return;
  uint64_t rest = from->end - from->pos;
  uint64_t half = rest / 2;
  double split_s = half >= segment_policy_.min_steal ? std::max(fresh_s(half), from_s / 2) : 1e18;
  double replace_s = fresh_s(rest);
  if (from_s <= split_s && from_s <= replace_s) return;  // it is still the fastest way
  uint32_t i = from->seg;
  if (replace_s <= split_s) {
    release(*from);
    note_done(f, *from);  // its written prefix stays held
    f.parts[i].reset();
    start_transfer(f, i, f.segs[i].next(), f.segs[i].end, "", "");
    return;
  }
  uint64_t mid = from->end - half;
  Segment tail;
  tail.start = mid;
  tail.end = f.segs[i].end;
  f.segs[i].end = mid;
  from->end = mid;
  f.segs.insert(f.segs.begin() + i + 1, tail);
  f.parts.insert(f.parts.begin() + i + 1, nullptr);
  for (uint32_t k = i + 2; k < f.parts.size(); k++)
    if (f.parts[k]) f.parts[k]->seg = k;
  start_transfer(f, i + 1, tail.start, tail.end, "", "");
}

// Every segment is complete: the record goes, the verifier hashes the whole file from disk.
void DownloadIo::finish_split(Fetch& f) {
  uint64_t job = f.job.job;
  for (const Segment& s : f.segs) {
    if (!s.complete()) {  // cannot happen: a segment's transfer completes only at its end
      report_progress(f, true);
      end_fetch(f, true);
      manager_.on_fetch_done(job, {FetchOutcome::Kind::Retry, FERRY_EHTTP, "a segment is missing", ""},
                             now());
      fed_ = true;
      return;
    }
  }
  report_progress(f, true);
  end_fetch(f, false);
  manager_.on_fetch_done(job, {FetchOutcome::Kind::Complete, FERRY_OK, "", ""}, now());
  fed_ = true;
}

uint64_t DownloadIo::held(Fetch& f) {
  if (!f.split()) {
    const Transfer* t = f.parts.empty() ? nullptr : f.parts[0].get();
    return t ? t->on_disk() : f.reported;
  }
  note_all(f);
  return segments_held(f.segs);
}

}  // namespace ferry::sdk
