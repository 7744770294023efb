#include "sdk/core/download_wire.h"

#include "proto/json.h"

namespace ferry::sdk::wire {

std::string download_url_body(uint64_t rid, uint64_t message_id, uint32_t ttl_s) {
  proto::Json j = proto::json_object();
  proto::json_set_string(j.get(), "op", "download_url");
  proto::json_set_u64(j.get(), "rid", rid);
  proto::json_set_u64(j.get(), "message_id", message_id);
  if (ttl_s != 0) proto::json_set_u64(j.get(), "ttl_s", ttl_s);
  return proto::json_print(j.get());
}

bool parse_download_grant(const cJSON* answer, DownloadUrl& out, std::string& err) {
  const cJSON* d = cJSON_GetObjectItemCaseSensitive(answer, "download");
  if (!cJSON_IsObject(d)) return err = "no download object", false;
  uint64_t expires = 0;
  if (!proto::json_get_string(d, "url", out.url, err) ||
      !proto::json_get_string(d, "ticket", out.ticket, err) ||
      !proto::json_get_u64(d, "expires_ms", expires, err) ||
      !proto::json_get_u64(d, "size", out.size, err) ||
      !proto::json_get_string(d, "sha256", out.sha256, err)) {
    return false;
  }
  out.expires_ms = static_cast<int64_t>(expires);
  if (out.sha256.size() != 64) return err = "sha256 is not 64 hex digits", false;
  if (out.url.rfind("http://", 0) != 0 && out.url.rfind("https://", 0) != 0)
    return err = "url is not http(s)", false;
  // Name and MIME type are for display; an older server may leave them out.
  proto::json_opt_string(d, "name", out.name, err);
  proto::json_opt_string(d, "mime", out.mime, err);
  err.clear();
  return true;
}

}  // namespace ferry::sdk::wire
