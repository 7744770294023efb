// Ticket signing and verification (see ticket.h).
#include "proto/ticket.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proto/hex.h"
#include "proto/json.h"

namespace ferry::proto {

static const char kPrefix[] = "ferry1.";

const char* ticket_error_message(TicketError e) {
  switch (e) {
    case TicketError::Ok: return "ok";
    case TicketError::Malformed: return "the ticket is malformed";
    case TicketError::BadSignature: return "the ticket's signature does not verify (forged or for another server)";
    case TicketError::Expired: return "the ticket has expired; ask the chat server for a new one";
    case TicketError::WrongKind: return "the ticket grants a different right";
  }
  return "unknown ticket error";
}

std::string base64url_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  std::string s(text);
  for (char& c : s) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') return false;
  }
  size_t pad = (4 - s.size() % 4) % 4;
  if (pad == 3) return false;
  s.append(pad, '=');
  out.assign(s.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return false;
  out.resize(static_cast<size_t>(n) - pad);
  // Canonical form only: the last character's spare bits must be zero, so a ticket has
  // exactly one spelling (no malleable variants that still verify).
  return base64url_encode(out) == text;
}

static std::string mac(std::string_view key, std::string_view data) {
  unsigned char md[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string ticket_sign(const TicketClaims& c, std::string_view key) {
  Json j = json_object();
  json_set_string(j.get(), "k", c.kind == TicketKind::Upload ? "up" : "down");
  json_set_u64(j.get(), "u", c.user_id);
  json_set_u64(j.get(), "m", c.message_id);
  json_set_u64(j.get(), "s", c.size);
  json_set_string(j.get(), "h", c.sha256_hex);
  json_set_i64(j.get(), "e", c.expires_ms);
  if (c.kind == TicketKind::Download) {
    json_set_string(j.get(), "n", c.name);
    json_set_string(j.get(), "t", c.mime);
  }
  std::string signed_part = kPrefix + base64url_encode(json_print(j.get()));
  return signed_part + "." + base64url_encode(mac(key, signed_part));
}

TicketError ticket_verify(std::string_view ticket, std::string_view key, TicketKind want,
                          int64_t now_ms, TicketClaims& out) {
  if (ticket.size() > 4096 || ticket.substr(0, sizeof kPrefix - 1) != kPrefix)
    return TicketError::Malformed;
  size_t dot = ticket.rfind('.');
  if (dot < sizeof kPrefix - 1) return TicketError::Malformed;
  std::string_view signed_part = ticket.substr(0, dot);
  std::string given_mac, claims_json;
  if (!base64url_decode(ticket.substr(dot + 1), given_mac) || given_mac.size() != 32)
    return TicketError::Malformed;
  std::string want_mac = mac(key, signed_part);
  if (CRYPTO_memcmp(want_mac.data(), given_mac.data(), 32) != 0) return TicketError::BadSignature;
  if (!base64url_decode(signed_part.substr(sizeof kPrefix - 1), claims_json))
    return TicketError::Malformed;
  Json j = json_parse(claims_json);
  if (!j || !cJSON_IsObject(j.get())) return TicketError::Malformed;
  std::string err, kind;
  uint64_t expires = 0;
  if (!json_get_string(j.get(), "k", kind, err) || !json_get_u64(j.get(), "u", out.user_id, err) ||
      !json_get_u64(j.get(), "m", out.message_id, err) ||
      !json_get_u64(j.get(), "s", out.size, err) ||
      !json_get_string(j.get(), "h", out.sha256_hex, err) ||
      !json_get_u64(j.get(), "e", expires, err))
    return TicketError::Malformed;
  out.expires_ms = static_cast<int64_t>(expires);
  out.kind = kind == "up" ? TicketKind::Upload : TicketKind::Download;
  if ((kind != "up" && kind != "down") || out.kind != want) return TicketError::WrongKind;
  out.name.clear();
  out.mime.clear();
  if (out.kind == TicketKind::Download && (!json_get_string(j.get(), "n", out.name, err) ||
                                            !json_get_string(j.get(), "t", out.mime, err)))
    return TicketError::Malformed;
  if (now_ms >= out.expires_ms) return TicketError::Expired;
  return TicketError::Ok;
}

bool load_or_create_secret(const std::string& path, std::string& key, std::string& err) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // O_EXCL: two servers starting at once must not each write a different key.
    std::string hex = random_hex(32) + "\n";
    int w = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w >= 0) {
      bool ok = write(w, hex.data(), hex.size()) == ssize_t(hex.size()) && fsync(w) == 0;
      close(w);
      if (!ok) {
        err = "cannot write secret file " + path + ": " + strerror(errno);
        unlink(path.c_str());
        return false;
      }
    } else if (errno != EEXIST) {
      err = "cannot create secret file " + path + ": " + strerror(errno);
      return false;
    }
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    err = "cannot open secret file " + path + ": " + strerror(errno);
    return false;
  }
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  std::string text(buf, n > 0 ? size_t(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (text.size() < 32 || !hex_decode(text, key)) {
    err = "secret file " + path + " must hold at least 32 hex digits";
    return false;
  }
  return true;
}

}  // namespace ferry::proto
