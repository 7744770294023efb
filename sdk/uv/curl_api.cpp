#include "sdk/uv/curl_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace ferry::sdk {
namespace {

struct Loaded {
  CurlApi api{};
  bool ok = false;
  std::string err;
};

template <typename Fn>
bool bind(void* lib, const char* name, Fn& out, std::string& missing) {
  out = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!out) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return out != nullptr;
}

bool bind_all(void* lib, CurlApi& a, std::string& missing) {
  bool ok = true;
  ok &= bind(lib, "curl_global_init", a.global_init, missing);
  ok &= bind(lib, "curl_multi_init", a.multi_init, missing);
  ok &= bind(lib, "curl_multi_setopt", a.multi_setopt, missing);
  ok &= bind(lib, "curl_multi_cleanup", a.multi_cleanup, missing);
  ok &= bind(lib, "curl_multi_add_handle", a.multi_add_handle, missing);
  ok &= bind(lib, "curl_multi_remove_handle", a.multi_remove_handle, missing);
  ok &= bind(lib, "curl_multi_strerror", a.multi_strerror, missing);
  ok &= bind(lib, "curl_multi_info_read", a.multi_info_read, missing);
  ok &= bind(lib, "curl_multi_assign", a.multi_assign, missing);
  ok &= bind(lib, "curl_multi_socket_action", a.multi_socket_action, missing);
  ok &= bind(lib, "curl_easy_init", a.easy_init, missing);
  ok &= bind(lib, "curl_easy_setopt", a.easy_setopt, missing);
  ok &= bind(lib, "curl_easy_getinfo", a.easy_getinfo, missing);
  ok &= bind(lib, "curl_easy_cleanup", a.easy_cleanup, missing);
  ok &= bind(lib, "curl_easy_strerror", a.easy_strerror, missing);
  ok &= bind(lib, "curl_easy_pause", a.easy_pause, missing);
  ok &= bind(lib, "curl_slist_append", a.slist_append, missing);
  ok &= bind(lib, "curl_slist_free_all", a.slist_free_all, missing);
  return ok;
}

Loaded load() {
  Loaded out;
  std::vector<std::string> names;
  if (const char* env = std::getenv("FERRY_CURL_LIBRARY"); env && *env) {
    names = {env};
  } else {
    names = {"libcurl.so.4", "libcurl-gnutls.so.4"};
  }
  std::string tried;
  for (const std::string& name : names) {
    // RTLD_LOCAL: libcurl's dependencies stay out of the app's symbol namespace.
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      tried += (tried.empty() ? "" : "; ") + (e ? std::string(e) : name);
      continue;
    }
    std::string missing;
    if (!bind_all(lib, out.api, missing)) {
      tried += (tried.empty() ? "" : "; ") + name + " lacks " + missing;
      dlclose(lib);
      continue;
    }
    if (out.api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      tried += (tried.empty() ? "" : "; ") + name + ": curl_global_init failed";
      continue;  // stays loaded: libcurl may have started initialising
    }
    out.ok = true;
    return out;
  }
  out.err = "downloads need libcurl (set FERRY_CURL_LIBRARY to its path): " + tried;
  return out;
}

}  // namespace

const CurlApi* curl_api(std::string* err) {
  static Loaded l;
  static std::once_flag once;
  std::call_once(once, [] { l = load(); });
  if (!l.ok && err) *err = l.err;
  return l.ok ? &l.api : nullptr;
}

}  // namespace ferry::sdk
