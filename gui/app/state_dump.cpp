#include "gui/app/state_dump.h"

#include <cjson/cJSON.h>

namespace ferry::gui {

namespace {

const char* kind_name(MediaKind k) {
  switch (k) {
    case MediaKind::kImage:
      return "image";
    case MediaKind::kVideo:
      return "video";
    case MediaKind::kFile:
      return "file";
    default:
      return "text";
  }
}

const char* const kDownloadNames[] = {"NONE",      "FETCHING", "RETRYING", "PAUSED",
                                      "VERIFYING", "DONE",     "FAILED",   "CANCELLED"};
const char* const kConnNames[] = {"OFFLINE", "CONNECTING", "CONNECTED", "ONLINE"};

cJSON* bubble_json(const Message& m) {
  cJSON* j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "id", double(m.id));
  cJSON_AddStringToObject(j, "local_id", m.local_id.c_str());
  cJSON_AddStringToObject(j, "from", m.from.c_str());
  cJSON_AddStringToObject(j, "to", m.to.c_str());
  cJSON_AddStringToObject(j, "kind", kind_name(m.kind));
  cJSON_AddStringToObject(j, "status", status_name(m.status));
  if (!m.is_media()) {
    cJSON_AddStringToObject(j, "text", m.text.c_str());
    return j;
  }
  cJSON_AddStringToObject(j, "name", m.name.c_str());
  cJSON_AddNumberToObject(j, "size", double(m.size));
  cJSON_AddStringToObject(j, "sha256", m.sha256.c_str());
  cJSON_AddStringToObject(j, "mime", m.mime.c_str());
  cJSON_AddNumberToObject(j, "thumb_bytes", double(m.thumb.size()));
  cJSON_AddNumberToObject(j, "upload_percent", double(int(m.upload_fraction() * 100)));
  int d = static_cast<int>(m.download);
  cJSON_AddStringToObject(j, "download", d >= 0 && d <= 7 ? kDownloadNames[d] : "?");
  cJSON_AddNumberToObject(j, "download_percent", double(int(m.download_fraction() * 100)));
  cJSON_AddStringToObject(j, "download_path", m.download_path.c_str());
  return j;
}

}  // namespace

std::string state_dump_json(const AppModel& model) {
  cJSON* root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "user", model.user().c_str());
  int s = model.connection().state;
  cJSON_AddStringToObject(root, "connection", s >= 0 && s <= 3 ? kConnNames[s] : "?");
  cJSON_AddStringToObject(root, "open", model.open_peer().c_str());
  cJSON* convs = cJSON_AddArrayToObject(root, "conversations");
  for (const Conversation* c : model.conversations_by_activity()) {
    cJSON* cj = cJSON_CreateObject();
    cJSON_AddStringToObject(cj, "peer", c->peer.c_str());
    cJSON_AddNumberToObject(cj, "unread", c->unread);
    cJSON* bubbles = cJSON_AddArrayToObject(cj, "bubbles");
    for (const Message& m : c->messages) cJSON_AddItemToArray(bubbles, bubble_json(m));
    cJSON_AddItemToArray(convs, cj);
  }
  char* text = cJSON_Print(root);
  std::string out = text ? text : "{}";
  cJSON_free(text);
  cJSON_Delete(root);
  return out + "\n";
}

}  // namespace ferry::gui
