// RequestParser over http_parser (see parser.h).
#include "servers/resource/http/core/parser.h"

#include <http_parser.h>

#include "servers/resource/http/core/headers.h"

namespace ferry::resource::http {

namespace {

enum class Field { Other, Authorization, Range, IfRange, TransferEncoding };

}  // namespace

struct RequestParser::Impl {
  RequestParser* owner = nullptr;
  http_parser parser;
  http_parser_settings settings;
  Request current;
  std::string field;  // the header name being read
  bool in_value = false;
  Field field_kind = Field::Other;
  size_t header_bytes = 0;
  bool too_long_target = false;
  bool too_many_header_bytes = false;
  int refuse_status = 0;  // set in on_headers_complete (501/505)
  std::string refuse_message;

  static Impl& of(http_parser* p) { return *static_cast<Impl*>(p->data); }

  void start_message() {
    current = Request{};
    field.clear();
    in_value = false;
    header_bytes = 0;
  }

  void end_field() {
    // Called when a value ends (a new field name starts, or the headers end).
    in_value = false;
    field.clear();
  }

  std::string* value_target() {
    switch (field_kind) {
      case Field::Authorization:
        return &current.authorization;
      case Field::Range:
        return &current.range;
      case Field::IfRange:
        return &current.if_range;
      default:
        return nullptr;
    }
  }

  void classify() {
    field_kind = Field::Other;
    bool* has = nullptr;
    if (ascii_iequals(field, "authorization")) {
      field_kind = Field::Authorization;
      has = &current.has_authorization;
    } else if (ascii_iequals(field, "range")) {
      field_kind = Field::Range;
      has = &current.has_range;
    } else if (ascii_iequals(field, "if-range")) {
      field_kind = Field::IfRange;
      has = &current.has_if_range;
    } else if (ascii_iequals(field, "transfer-encoding")) {
      field_kind = Field::TransferEncoding;
    }
    if (has) {
      std::string* v = value_target();
      if (*has) *v += ", ";  // a repeated field joins the first (RFC 9110 §5.3)
      *has = true;
    }
    if (field_kind == Field::TransferEncoding && !refuse_status) {
      refuse_status = 501;
      refuse_message = "requests with Transfer-Encoding are not supported";
    }
  }

  bool count_header(size_t n) {
    header_bytes += n;
    if (header_bytes <= kMaxHeaderBytes) return true;
    too_many_header_bytes = true;
    return false;
  }

  static int on_message_begin(http_parser* p) {
    of(p).start_message();
    return 0;
  }
  static int on_url(http_parser* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (s.current.target.size() + len > kMaxTargetBytes) {
      s.too_long_target = true;
      return -1;
    }
    s.current.target.append(at, len);
    return 0;
  }
  static int on_header_field(http_parser* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (!s.count_header(len)) return -1;
    if (s.in_value) s.end_field();
    s.field.append(at, len);
    return 0;
  }
  static int on_header_value(http_parser* p, const char* at, size_t len) {
    Impl& s = of(p);
    if (!s.count_header(len)) return -1;
    if (!s.in_value) {
      s.in_value = true;
      s.classify();
    }
    if (std::string* v = s.value_target()) v->append(at, len);
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    Impl& s = of(p);
    s.end_field();
    s.current.method = http_method_str(static_cast<http_method>(p->method));
    s.current.version_major = p->http_major;
    s.current.version_minor = p->http_minor;
    s.current.keep_alive = http_should_keep_alive(p) != 0;
    if (!s.refuse_status && (p->http_major != 1 || p->http_minor > 1)) {
      s.refuse_status = 505;
      s.refuse_message = "only HTTP/1.0 and HTTP/1.1 are supported";
    }
    return s.refuse_status ? -1 : 0;
  }
  static int on_body(http_parser*, const char*, size_t) { return 0; }  // skipped, not stored
  static int on_message_complete(http_parser* p) {
    Impl& s = of(p);
    s.current.upgrade = p->upgrade != 0;
    s.owner->queue_.push_back(std::move(s.current));
    s.current = Request{};
    // Pipelining is bounded: stop here and keep the rest until the queue has room.
    if (s.owner->queue_.size() >= kMaxQueued) http_parser_pause(p, 1);
    return 0;
  }
};

RequestParser::RequestParser() : impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
  http_parser_init(&impl_->parser, HTTP_REQUEST);
  impl_->parser.data = impl_.get();
  http_parser_settings_init(&impl_->settings);
  impl_->settings.on_message_begin = Impl::on_message_begin;
  impl_->settings.on_url = Impl::on_url;
  impl_->settings.on_header_field = Impl::on_header_field;
  impl_->settings.on_header_value = Impl::on_header_value;
  impl_->settings.on_headers_complete = Impl::on_headers_complete;
  impl_->settings.on_body = Impl::on_body;
  impl_->settings.on_message_complete = Impl::on_message_complete;
}

RequestParser::~RequestParser() = default;

bool RequestParser::wants_input() const { return !stopped_ && held_.empty(); }

void RequestParser::fail(int status, std::string message) {
  stopped_ = true;
  error_status_ = status;
  error_message_ = std::move(message);
  held_.clear();
}

void RequestParser::feed(const char* data, size_t len) {
  if (stopped_ || len == 0) return;
  if (!held_.empty()) {
    held_.append(data, len);  // paused: keep it in order behind what is already held
    return;
  }
  run(data, len);
}

void RequestParser::run(const char* data, size_t len) {
  size_t used = http_parser_execute(&impl_->parser, &impl_->settings, data, len);
  http_errno err = HTTP_PARSER_ERRNO(&impl_->parser);
  if (err == HPE_PAUSED) {
    held_.assign(data + used, len - used);
    return;
  }
  if (err != HPE_OK) {
    if (impl_->too_long_target) {
      return fail(414, "the request target is longer than 8 KiB");
    }
    if (impl_->too_many_header_bytes || err == HPE_HEADER_OVERFLOW) {
      return fail(431, "the request's header fields are larger than 16 KiB");
    }
    if (impl_->refuse_status) return fail(impl_->refuse_status, impl_->refuse_message);
    return fail(400, std::string("malformed request: ") + http_errno_description(err));
  }
  if (impl_->parser.upgrade) {
    // CONNECT or an Upgrade request: the library leaves the rest unparsed (it would be
    // another protocol). The request is answered, then the connection closes.
    stopped_ = true;
    return;
  }
}

bool RequestParser::pop(Request& out) {
  if (queue_.empty()) return false;
  out = std::move(queue_.front());
  queue_.pop_front();
  if (!held_.empty() && queue_.size() < kMaxQueued && !stopped_) {
    http_parser_pause(&impl_->parser, 0);
    std::string rest;
    rest.swap(held_);
    run(rest.data(), rest.size());
  }
  return true;
}

}  // namespace ferry::resource::http
