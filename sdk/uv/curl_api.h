// CurlApi: the libcurl functions the SDK's downloads call, loaded with dlopen() on the first
// download rather than linked into libferry.
//
// Why: libcurl brings 28 more shared libraries on Debian 12 (TLS, Kerberos, LDAP, SSH, IDN,
// PSL, brotli, ...), and the dynamic loader spends ~17 ms of CPU on them at the start of every
// process linked to it, whether or not it ever downloads: an empty main() linked to the SDK's
// other libraries started in 12 ms, with libcurl too in 28 ms. That was most of the `ferry`
// CLI's time before its first connect, and a chat app pays it at every start. The same reason
// keeps libav in a module (sdk/media/video_module.h); here the library itself is loaded, since
// libcurl's ABI (soname libcurl.so.4) has been stable for two decades.
//
// Where libcurl is looked for, first found wins: $FERRY_CURL_LIBRARY (a path or soname; when
// set, nothing else: the app chose it), libcurl.so.4 (Debian's libcurl4, OpenSSL), and
// libcurl-gnutls.so.4 (libcurl3-gnutls, the same ABI).
#pragma once

#include <curl/curl.h>

#include <string>

namespace ferry::sdk {

struct CurlApi {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_setopt) multi_setopt;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_strerror) multi_strerror;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_assign) multi_assign;
  decltype(&::curl_multi_socket_action) multi_socket_action;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_easy_pause) easy_pause;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// The table, loaded and curl_global_init()ed once per process (thread-safe; the library stays
// loaded). Null if libcurl cannot be loaded; `err` (if given) then says where it was looked for
// and why it failed.
const CurlApi* curl_api(std::string* err = nullptr);

}  // namespace ferry::sdk
