// DownloadIo's private state (download_io.h): one Fetch per FetchJob, one Transfer per HTTP
// request of it. Shared by download_io.cpp (requests, libcurl, files) and download_split.cpp
// (splitting a fetch into parts and helping the slowest); nothing else includes it.
#pragma once

#include <curl/curl.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sdk/core/download_manager.h"
#include "sdk/core/download_plan.h"
#include "sdk/core/download_segments.h"
#include "sdk/uv/download_io.h"
#include "sdk/uv/download_writer.h"

namespace ferry::sdk {

struct DownloadIo::Transfer {
  DownloadIo* io = nullptr;
  uint64_t serial = 0;  // unique in this DownloadIo: a freed transfer's address may be reused
  Fetch* fetch = nullptr;  // its fetch: the job and the partial's fd (it outlives its parts)
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  uint32_t seg = 0;        // its segment, when the fetch is split
  uint64_t end = 0;        // where its bytes end (exclusive); 0 = the file's end
  bool reached_end = false;  // it stopped itself at `end` (an open-ended answer, cut)
  bool truncated = false;    // its answer emptied the partial: nothing held any more
  uint64_t requested = 0;  // the Range start asked for (0 = none)
  uint64_t start = 0;      // where the body goes: `requested`, or 0 after a Restart
  uint64_t pos = 0;        // start + the body bytes handed to the writer
  bool decided = false;
  ResponsePlan plan;
  std::string content_range;
  std::string error_body;
  // Created at the first body byte; hashes when start == 0 (every byte from 0 passes).
  std::unique_ptr<DownloadWriter> writer;
  bool paused = false;  // CURL_WRITEFUNC_PAUSE returned: waiting for the writer's room
  bool done = false;    // libcurl finished (rc); waiting for the writer to write the rest
  CURLcode rc = CURLE_OK;
  int write_errno = 0;
  char errbuf[CURL_ERROR_SIZE] = {0};
  // Bytes of the file this transfer has on disk (a prefix of its range).
  uint64_t released_disk = 0;  // on_disk() once the writer is gone (release)
  uint64_t started_ms = 0;     // when it was asked for (its rate, for steal())
  uint64_t on_disk() const {
    return writer ? writer->written() : std::max(start, released_disk);
  }
};

// One FetchJob: the partial file and the transfers filling it. Unsplit, one transfer and
// the partial is a prefix of the file; split (download_segments.h), one transfer per
// unfinished segment and the record next to the partial says what is held.
struct DownloadIo::Fetch {
  FetchJob job;
  int fd = -1;  // the partial, flock()ed
  std::vector<Segment> segs;  // empty: not split
  std::vector<std::unique_ptr<Transfer>> parts;  // by segment (one slot when not split)
  bool may_split = false;     // one transfer from the partial's end, not yet judged
  bool split_due = false;     // its answer came: judge it after this socket action
  uint64_t saved_ms = 0;      // the record's last rewrite
  uint64_t rtt_us = 0;        // the shortest round trip a transfer's start showed
  uint64_t reported = 0;      // bytes last given to on_fetch_progress
  uint64_t reported_ms = 0;
  bool split() const { return !segs.empty(); }
};

}  // namespace ferry::sdk
