// Signed, expiring tickets: how the chat server grants upload and download rights that the
// resource server checks without a shared database (DESIGN.md, "Servers own identity").
//
// Wire form (URL-safe, so a download ticket can ride in a query string):
//
//   ferry1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, "ferry1." + claims part))>
//
// Claims: {"k":"up"|"down","u":user_id,"m":message_id,"s":size,"h":sha256_hex,"e":expiry_ms},
// and for download tickets only also "n" (display name) and "t" (MIME type), so the resource
// server can set Content-Disposition and Content-Type without a database
// (docs/protocol-download.md §2). Upload tickets never carry them, so their bytes are unchanged.
// Verification is constant-time on the MAC and checks expiry against a caller-given clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::proto {

enum class TicketKind { Upload, Download };

struct TicketClaims {
  TicketKind kind = TicketKind::Upload;
  uint64_t user_id = 0;
  uint64_t message_id = 0;
  uint64_t size = 0;
  // 64 lowercase hex digits; empty in an *unbound* upload ticket (the client sends before it
  // knows the hash; docs/protocol-upload.md "Hash later"). Download tickets always have it.
  std::string sha256_hex;
  int64_t expires_ms = 0;  // Unix epoch milliseconds
  // Download tickets only (claims "n" and "t"; required when verifying a download ticket,
  // ignored and never signed for upload tickets).
  std::string name;  // the display name as the sender gave it (UTF-8)
  std::string mime;  // the MIME type as the sender gave it
};

enum class TicketError { Ok, Malformed, BadSignature, Expired, WrongKind };
const char* ticket_error_message(TicketError e);

std::string ticket_sign(const TicketClaims& claims, std::string_view key);
// Checks form, signature, kind and expiry (now_ms from the caller's clock).
TicketError ticket_verify(std::string_view ticket, std::string_view key, TicketKind want,
                          int64_t now_ms, TicketClaims& out);

std::string base64url_encode(std::string_view bytes);
bool base64url_decode(std::string_view text, std::string& out);

// Loads the shared HMAC key from `path` (64 hex digits), creating the file with a fresh
// random key and mode 0600 if it does not exist. Returns false with `err` set on failure.
bool load_or_create_secret(const std::string& path, std::string& key, std::string& err);

}  // namespace ferry::proto
