// Proves the strict JSON helpers reject what the protocol refuses: wrong types, unknown
// fields, trailing garbage, inexact numbers and invalid UTF-8.
#include <gtest/gtest.h>

#include "proto/json.h"

using namespace ferry::proto;

TEST(json, parse_rejects_trailing_garbage) {
  EXPECT_TRUE(json_parse(R"({"a":1})"));
  EXPECT_TRUE(json_parse("{\"a\":1}\n"));
  EXPECT_FALSE(json_parse(R"({"a":1}x)"));
  EXPECT_FALSE(json_parse(R"({"a":)"));
  EXPECT_FALSE(json_parse(""));
}

TEST(json, typed_fields_name_the_problem) {
  auto j = json_parse(R"({"s":"x","n":5,"b":true,"f":1.5,"neg":-1})");
  std::string s, err;
  uint64_t n = 0;
  bool b = false;
  EXPECT_TRUE(json_get_string(j.get(), "s", s, err));
  EXPECT_EQ(s, "x");
  EXPECT_TRUE(json_get_u64(j.get(), "n", n, err));
  EXPECT_EQ(n, 5u);
  EXPECT_TRUE(json_get_bool(j.get(), "b", b, err));
  EXPECT_FALSE(json_get_string(j.get(), "n", s, err));
  EXPECT_EQ(err, "field 'n' must be a string");
  EXPECT_FALSE(json_get_u64(j.get(), "f", n, err));
  EXPECT_FALSE(json_get_u64(j.get(), "neg", n, err));
  EXPECT_FALSE(json_get_string(j.get(), "missing", s, err));
  EXPECT_EQ(err, "missing field 'missing'");
  EXPECT_TRUE(json_opt_string(j.get(), "missing", s, err));
}

TEST(json, unknown_fields_refused) {
  auto j = json_parse(R"({"op":"send","rid":1,"from":"mallory"})");
  std::string err;
  EXPECT_FALSE(json_only_fields(j.get(), {"op", "rid", "to"}, err));
  EXPECT_EQ(err, "unknown field 'from'");
  EXPECT_TRUE(json_only_fields(j.get(), {"op", "rid", "from"}, err));
}

TEST(json, utf8_validation) {
  EXPECT_TRUE(utf8_valid("hello"));
  EXPECT_TRUE(utf8_valid("\xe4\xbd\xa0\xe5\xa5\xbd"));  // 你好
  EXPECT_TRUE(utf8_valid("\xf0\x9f\x98\x80"));  // emoji
  EXPECT_FALSE(utf8_valid("\xc0\xaf"));  // overlong '/'
  EXPECT_FALSE(utf8_valid("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(utf8_valid("\xe4\xbd"));  // truncated
  EXPECT_FALSE(utf8_valid("\xff"));
}
