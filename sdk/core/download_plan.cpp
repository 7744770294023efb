#include "sdk/core/download_plan.h"

#include <cctype>

#include "sdk/include/ferry.h"

namespace ferry::sdk {
namespace {

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + uint64_t(c - '0');
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

ResumePlan plan_resume(uint64_t partial_size, uint64_t size, const std::string& sha256) {
  ResumePlan p;
  bool size_known = !sha256.empty();  // the grant carries both, or neither is known yet
  if (size_known && partial_size > size) {
    p.action = ResumePlan::Action::Truncate;
    return p;
  }
  // A full partial (or an empty file) needs no request: a Range at the end would only earn
  // a 416.
  if (size_known && partial_size == size) {
    p.action = ResumePlan::Action::Verify;
    p.offset = partial_size;
    return p;
  }
  p.offset = partial_size;
  if (partial_size > 0) {
    p.range = "bytes=" + std::to_string(partial_size) + "-";
    if (size_known) p.if_range = "\"" + sha256 + "\"";
  }
  return p;
}

bool parse_content_range(std::string_view v, uint64_t& first, uint64_t& last, uint64_t& size) {
  v = trim(v);
  if (v.substr(0, 6) != "bytes ") return false;
  v.remove_prefix(6);
  v = trim(v);
  size_t dash = v.find('-'), slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash)
    return false;
  if (!parse_u64(v.substr(0, dash), first) ||
      !parse_u64(v.substr(dash + 1, slash - dash - 1), last))
    return false;
  std::string_view total = v.substr(slash + 1);
  if (total == "*") {
    size = 0;
  } else if (!parse_u64(total, size)) {
    return false;
  }
  return first <= last && (size == 0 || last < size);
}

ResponsePlan plan_response(long status, std::string_view content_range, uint64_t requested,
                           uint64_t partial_size, uint64_t size) {
  ResponsePlan p;
  std::string code = "HTTP " + std::to_string(status);
  switch (status) {
    case 200:
      // The whole file: either we asked for it, or the server ignored the Range (If-Range
      // did not match, or it does not do ranges). Either way the partial is replaced.
      p.action = requested == 0 ? ResponsePlan::Action::Append : ResponsePlan::Action::Restart;
      p.offset = 0;
      return p;
    case 206: {
      uint64_t first = 0, last = 0, total = 0;
      if (!parse_content_range(content_range, first, last, total)) {
        p.action = ResponsePlan::Action::StartOver;
        p.err = FERRY_EHTTP;
        p.detail = "206 with a bad Content-Range '" + std::string(content_range) + "'";
        return p;
      }
      if (first != requested || (size > 0 && total != 0 && total != size)) {
        p.action = ResponsePlan::Action::StartOver;
        p.err = FERRY_EHTTP;
        p.detail = "206 for bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                   std::to_string(total) + " after asking from " + std::to_string(requested);
        return p;
      }
      p.action = ResponsePlan::Action::Append;
      p.offset = first;
      return p;
    }
    case 416:
      if (size > 0 && partial_size == size) {
        p.action = ResponsePlan::Action::Complete;
        p.offset = size;
        return p;
      }
      p.action = ResponsePlan::Action::StartOver;
      p.err = FERRY_EHTTP;
      p.detail = code + ": range from " + std::to_string(requested) + " not satisfiable";
      return p;
    case 401:
    case 403:
      p.action = ResponsePlan::Action::RefreshUrl;
      p.err = FERRY_EHTTP;
      p.detail = code + ": the download ticket was refused or expired";
      return p;
    case 404:
    case 410:
      p.action = ResponsePlan::Action::Fail;
      p.err = FERRY_ENOTFOUND;
      p.detail = code + ": the resource server does not hold this file";
      return p;
    case 408:
    case 429:
      p.action = ResponsePlan::Action::Retry;
      p.err = FERRY_EHTTP;
      p.detail = code;
      return p;
    default:
      break;
  }
  p.err = FERRY_EHTTP;
  p.detail = code;
  // 5xx: the server's trouble, likely passing. Anything else (4xx, 3xx we do not follow):
  // asking again the same way gets the same answer.
  p.action =
      status >= 500 && status <= 599 ? ResponsePlan::Action::Retry : ResponsePlan::Action::Fail;
  return p;
}

VerifyOutcome plan_verify(const std::string& actual, const std::string& expected) {
  if (actual.size() != 64 || actual.size() != expected.size()) return VerifyOutcome::Mismatch;
  for (size_t i = 0; i < actual.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(actual[i])) !=
        std::tolower(static_cast<unsigned char>(expected[i])))
      return VerifyOutcome::Mismatch;
  }
  return VerifyOutcome::Commit;
}

}  // namespace ferry::sdk
