// ferry_loop_* and ferry_options_set_loop: a loop thread several clients share. The handle is
// one reference to a UvLoop; every client on it holds another, so the thread outlives both
// the handle and the last client, whichever goes first. No C++ exception crosses this file.
#include <cstdio>
#include <cstdlib>
#include <new>

#include "sdk/api/client.h"
#include "sdk/api/options.h"
#include "sdk/uv/uv_loop.h"

namespace {

void check_loop(const ferry_loop_t* l) {
  if (l->magic != ferry_loop::kMagic) {
    std::fprintf(stderr, "ferry: invalid or destroyed ferry_loop_t %p\n",
                 static_cast<const void*>(l));
    std::abort();
  }
}

}  // namespace

extern "C" {

int ferry_loop_new(ferry_loop_t** out) {
  if (!out) return FERRY_EINVAL;
  *out = nullptr;
  try {
    auto l = std::make_unique<ferry_loop>();
    l->loop = std::make_shared<ferry::sdk::UvLoop>();
    if (l->loop->start() != 0) return FERRY_EIO;
    *out = l.release();
    return FERRY_OK;
  } catch (const std::bad_alloc&) {
    return FERRY_ENOMEM;
  } catch (...) {
    return FERRY_EIO;
  }
}

void ferry_loop_destroy(ferry_loop_t* loop) {
  if (!loop) return;
  check_loop(loop);
  loop->magic = 0;
  delete loop;  // joins the thread if this was the last reference
}

int ferry_options_set_loop(ferry_options_t* opts, ferry_loop_t* loop) {
  if (!opts) return FERRY_EINVAL;
  if (loop) check_loop(loop);
  opts->loop = loop ? loop->loop : nullptr;
  return FERRY_OK;
}

}  // extern "C"
