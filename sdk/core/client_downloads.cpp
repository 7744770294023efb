// ClientCore, part 5: downloads. Hands the app's download commands to the DownloadManager and
// sends the download_url requests it asks for on the chat connection; the HTTP side is the
// adapter's (sdk/uv/download_io.*), which drives the manager directly.
#include "sdk/core/client_core.h"

namespace ferry::sdk {

void ClientCore::submit_download(const PendingDownload& d, uint64_t now) {
  downloads_.submit(d, now);
  pump_downloads(now);
}

bool ClientCore::download_pause(uint64_t id, uint64_t now) { return downloads_.pause(id, now); }

bool ClientCore::download_resume(uint64_t id, uint64_t now) {
  bool ok = downloads_.resume(id, now);
  pump_downloads(now);
  return ok;
}

bool ClientCore::download_cancel(uint64_t id, uint64_t now) { return downloads_.cancel(id, now); }

void ClientCore::request_download_url(uint64_t request_id, uint64_t message_id, uint32_t ttl_s,
                                      uint64_t now) {
  downloads_.request_url(request_id, message_id, ttl_s, now);
  pump_downloads(now);
}

void ClientCore::pump_downloads(uint64_t now) {
  // download_url needs an authenticated connection and nothing else.
  if (phase_ != Phase::Online) return;
  std::string body;
  for (;;) {
    uint64_t rid = next_rid_;
    if (!downloads_.next_chat_request(rid, body)) break;
    next_rid_++;
    send_request(rid, Kind::Download, body, InFlight{Kind::Download, {}, {}}, now);
  }
}

}  // namespace ferry::sdk
