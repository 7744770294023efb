// ferry_client_upload_connections: how many resource connections ("lanes") the uploads use,
// read from UploadIo's counters (atomics, so any thread may ask).
#include "sdk/api/client.h"
#include "sdk/include/ferry.h"
#include "sdk/uv/upload_io.h"

extern "C" {

int ferry_client_upload_connections(ferry_client_t* client, uint32_t* current, uint32_t* peak) {
  if (!client) return FERRY_EINVAL;
  ferry::sdk::check_client(client);
  const ferry::sdk::UploadIoStats* st = client->driver ? client->driver->upload_stats() : nullptr;
  if (current) *current = st ? st->connections.load() : 0;
  if (peak) *peak = st ? st->connections_peak.load() : 0;
  return FERRY_OK;
}

}  // extern "C"
