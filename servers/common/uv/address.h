// HOST:PORT text <-> socket addresses for both servers' adapters: numeric IPv4, [IPv6], and
// (for outgoing links only) a name resolved once at start-up.
#pragma once

#include <uv.h>

#include <string>

namespace ferry::server {

// How one server words and treats an address. The two servers word their errors differently
// (chatd's listen address is numeric only and says so; resd may resolve --chat) and their
// messages are kept as they were.
struct AddressRules {
  const char* what = "address";                     // "<what> must be HOST:PORT, got '...'"
  bool resolve = false;                             // fall back to a synchronous DNS lookup
  const char* bad_host = "cannot resolve host in";  // "<bad_host> '...'<bad_host_tail>"
  const char* bad_host_tail = "";
};

// Parses "HOST:PORT" (port 0-65535; host numeric IPv4, "[IPv6]", or a name if rules.resolve)
// into `addr`. On failure `err` says why. A lookup runs on uv_default_loop() with a NULL
// callback, so it blocks: call it before the loop runs.
bool parse_address(const std::string& text, sockaddr_storage& addr, const AddressRules& rules,
                   std::string& err);

// "127.0.0.1:7420" or "[::1]:7420".
std::string describe_address(const sockaddr_storage& addr);

}  // namespace ferry::server
