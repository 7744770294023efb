// Standard base64 (RFC 4648 section 4, with padding) for the thumbnails that travel inline in
// media messages. OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock do the work; this wrapper fixes
// their two sharp edges (no length for the decoded padding, lenient about whitespace).
#pragma once

#include <string>
#include <string_view>

namespace ferry::sdk {

std::string base64_encode(std::string_view bytes);
// False for text that is not canonical padded base64 (length not a multiple of 4, bad
// characters, whitespace).
bool base64_decode(std::string_view text, std::string& out);

}  // namespace ferry::sdk
