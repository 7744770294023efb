// One proxied connection of ferry-chaos (conn.cpp): the accepted client socket, the upstream
// socket, a timer, and the queues of timed writes its ConnCore asked for. It reads both sides,
// feeds the core, writes what falls due, passes FIN on (except out of a blackholed direction),
// resets both sides on a cut, and frees itself once its three handles are closed.
#pragma once

#include <uv.h>

#include <memory>

#include "harness/chaos/core/connection.h"
#include "harness/chaos/uv/proxy.h"

namespace ferry::chaos {

struct Conn;

// Accepts the pending connection on `server`, connects upstream and starts relaying. The Conn
// registers itself in proxy->conns_ and removes itself when closed.
void start_conn(Proxy* proxy, std::unique_ptr<ConnCore> core, uv_stream_t* server);
// Resets both sockets at once (shutdown).
void reset_conn(Conn* c);
// A cut_now from a schedule or the control interface, through the core (counted, logged).
void cut_conn(Conn* c);

}  // namespace ferry::chaos
