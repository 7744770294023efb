// Proves tickets verify only when untouched, unexpired, of the right kind and signed with the
// same key, and that the shared secret file is created once and then reused.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include "proto/ticket.h"
#include "tests/support/process.h"

using namespace ferry::proto;

static TicketClaims sample() {
  TicketClaims c;
  c.kind = TicketKind::Upload;
  c.user_id = 7;
  c.message_id = 4242;
  c.size = 5ull << 32;  // beyond 4 GiB
  c.sha256_hex = std::string(64, 'a');
  c.expires_ms = 2'000'000;
  return c;
}

TEST(ticket, roundtrip) {
  std::string t = ticket_sign(sample(), "k1");
  TicketClaims out;
  ASSERT_EQ(ticket_verify(t, "k1", TicketKind::Upload, 1'000'000, out), TicketError::Ok);
  EXPECT_EQ(out.user_id, 7u);
  EXPECT_EQ(out.message_id, 4242u);
  EXPECT_EQ(out.size, 5ull << 32);
  EXPECT_EQ(out.sha256_hex, std::string(64, 'a'));
  EXPECT_EQ(t.find_first_of("+/= "), std::string::npos) << "must be URL-safe";
}

TEST(ticket, refused_when_wrong) {
  std::string t = ticket_sign(sample(), "k1");
  TicketClaims out;
  EXPECT_EQ(ticket_verify(t, "k2", TicketKind::Upload, 1'000'000, out), TicketError::BadSignature);
  EXPECT_EQ(ticket_verify(t, "k1", TicketKind::Upload, 2'000'000, out), TicketError::Expired);
  EXPECT_EQ(ticket_verify(t, "k1", TicketKind::Download, 1'000'000, out), TicketError::WrongKind);
  // Change the claims (another user's id) but keep the old signature.
  TicketClaims forged = sample();
  forged.user_id = 8;
  std::string f = ticket_sign(forged, "attacker");
  std::string spliced = f.substr(0, f.rfind('.')) + t.substr(t.rfind('.'));
  EXPECT_EQ(ticket_verify(spliced, "k1", TicketKind::Upload, 0, out), TicketError::BadSignature);
  EXPECT_EQ(ticket_verify("garbage", "k1", TicketKind::Upload, 0, out), TicketError::Malformed);
  EXPECT_EQ(ticket_verify("ferry1.x.y", "k1", TicketKind::Upload, 0, out), TicketError::Malformed);
  EXPECT_EQ(ticket_verify("", "k1", TicketKind::Upload, 0, out), TicketError::Malformed);
}

TEST(ticket, base64url) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xfe\xfd"}) {
    std::string back;
    ASSERT_TRUE(base64url_decode(base64url_encode(s), back));
    EXPECT_EQ(back, s);
  }
  std::string out;
  EXPECT_FALSE(base64url_decode("a", out));
  EXPECT_FALSE(base64url_decode("ab+c", out));
  EXPECT_FALSE(base64url_decode("QR", out)) << "non-canonical: spare bits set";
  EXPECT_TRUE(base64url_decode("QQ", out));
}

TEST(ticket, secret_file_created_once) {
  ferry::test::TempDir dir;
  std::string path = dir.sub("secret"), k1, k2, err;
  ASSERT_TRUE(load_or_create_secret(path, k1, err)) << err;
  EXPECT_EQ(k1.size(), 32u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(load_or_create_secret(path, k2, err)) << err;
  EXPECT_EQ(k1, k2);
  EXPECT_FALSE(load_or_create_secret(dir.sub("missing-dir/secret"), k2, err));
  EXPECT_NE(err.find("missing-dir"), std::string::npos);
}

// Download tickets (docs/protocol-download.md §2) also carry the display name and MIME type.
static TicketClaims download_sample() {
  TicketClaims c = sample();
  c.kind = TicketKind::Download;
  c.name = "Ferien \xc3\xa9t\xc3\xa9 \"2026\"/../x.jpg";  // UTF-8, quotes, slashes
  c.mime = "image/jpeg";
  return c;
}

TEST(ticket, download_roundtrip_carries_name_and_mime) {
  std::string t = ticket_sign(download_sample(), "k1");
  EXPECT_EQ(t.find_first_of("+/= %"), std::string::npos) << "must be URL-safe";
  TicketClaims out;
  ASSERT_EQ(ticket_verify(t, "k1", TicketKind::Download, 1'000'000, out), TicketError::Ok);
  EXPECT_EQ(out.kind, TicketKind::Download);
  EXPECT_EQ(out.name, download_sample().name);
  EXPECT_EQ(out.mime, "image/jpeg");
  EXPECT_EQ(out.size, 5ull << 32);
  EXPECT_EQ(ticket_verify(t, "k1", TicketKind::Upload, 1'000'000, out), TicketError::WrongKind);
  EXPECT_EQ(ticket_verify(t, "k1", TicketKind::Download, 2'000'000, out), TicketError::Expired);
}

TEST(ticket, upload_ticket_never_carries_name_or_mime) {
  TicketClaims c = sample();
  c.name = "ignored.jpg";
  c.mime = "image/jpeg";
  std::string with = ticket_sign(c, "k1");
  EXPECT_EQ(with, ticket_sign(sample(), "k1")) << "upload tickets are unchanged byte for byte";
  std::string claims;
  size_t a = with.find('.'), b = with.rfind('.');
  ASSERT_TRUE(base64url_decode(with.substr(a + 1, b - a - 1), claims));
  EXPECT_EQ(claims.find("\"n\""), std::string::npos);
  EXPECT_EQ(claims.find("\"t\""), std::string::npos);
  EXPECT_EQ(claims,
            R"({"k":"up","u":7,"m":4242,"s":21474836480,"h":")" + std::string(64, 'a') +
                R"(","e":2000000})");
}

TEST(ticket, download_ticket_without_name_or_mime_is_malformed) {
  // A correctly signed "down" ticket lacking the two claims must not verify as a download:
  // the resource server needs both for its headers.
  auto sign_claims = [](const std::string& claims) {
    std::string signed_part = "ferry1." + base64url_encode(claims);
    unsigned char md[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), "k1", 2, reinterpret_cast<const unsigned char*>(signed_part.data()),
         signed_part.size(), md, &len);
    return signed_part + "." + base64url_encode(std::string(reinterpret_cast<char*>(md), len));
  };
  std::string base = R"({"k":"down","u":7,"m":4242,"s":5,"h":")" + std::string(64, 'a') +
                     R"(","e":2000000)";
  TicketClaims out;
  EXPECT_EQ(ticket_verify(sign_claims(base + "}"), "k1", TicketKind::Download, 0, out),
            TicketError::Malformed);
  EXPECT_EQ(ticket_verify(sign_claims(base + R"(,"n":"a.jpg"})"), "k1", TicketKind::Download, 0,
                          out),
            TicketError::Malformed);
  EXPECT_EQ(ticket_verify(sign_claims(base + R"(,"n":"a.jpg","t":7})"), "k1",
                          TicketKind::Download, 0, out),
            TicketError::Malformed);
  ASSERT_EQ(ticket_verify(sign_claims(base + R"(,"n":"a.jpg","t":"image/jpeg"})"), "k1",
                          TicketKind::Download, 0, out),
            TicketError::Ok);
  EXPECT_EQ(out.name, "a.jpg");
}
