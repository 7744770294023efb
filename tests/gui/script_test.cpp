// Proves the ferry-gui script language parses as docs/gui.md says: words and quotes, every
// action's argument count, wait kinds and statuses, and that a bad line is reported with its
// number. Pure parsing: no window, no SDK.
#include "gui/script/script.h"

#include <gtest/gtest.h>

using namespace ferry::gui;

TEST(GuiScript, SplitsWordsAndQuotes) {
  std::vector<std::string> w;
  std::string err;
  ASSERT_TRUE(split_words("  wait   message \"hello world\" x\\y", &w, &err));
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], "wait");
  EXPECT_EQ(w[2], "hello world");
  EXPECT_EQ(w[3], "x\\y");  // backslashes only escape inside quotes
  ASSERT_TRUE(split_words("type \"say \\\"hi\\\"\"", &w, &err));
  EXPECT_EQ(w[1], "say \"hi\"");
  EXPECT_FALSE(split_words("type \"open", &w, &err));
  EXPECT_EQ(err, "unterminated quote");
}

TEST(GuiScript, ParsesAFullScript) {
  std::vector<Action> a;
  std::string err;
  ASSERT_TRUE(
      parse_script("# comment\n\nlogin alice pw\nopen bob\ntype hello there\n"
                   "type \"  two spaces\"\nsend\ndrop /tmp/x.jpg\n"
                   "wait status READY x.jpg\nwait message \"你好\"\ntimeout 5\n"
                   "frames 3\nscreenshot out.png\ndump state.json\nquit\n",
                   &a, &err))
      << err;
  ASSERT_EQ(a.size(), 13u);
  EXPECT_EQ(a[0].op, Op::kLogin);
  EXPECT_EQ(a[0].line, 3);
  EXPECT_EQ(a[2].op, Op::kType);
  EXPECT_EQ(a[2].args[0], "hello there");
  EXPECT_EQ(a[3].args[0], "  two spaces");
  EXPECT_EQ(a[6].op, Op::kWait);
  EXPECT_EQ(a[6].wait, WaitKind::kStatus);
  EXPECT_EQ(a[6].args, (std::vector<std::string>{"READY", "x.jpg"}));
  EXPECT_EQ(a[7].wait, WaitKind::kMessage);
  EXPECT_EQ(a[7].args[0], "你好");
  EXPECT_EQ(a[12].op, Op::kQuit);
}

TEST(GuiScript, ReportsTheBadLine) {
  std::vector<Action> a;
  std::string err;
  EXPECT_FALSE(parse_script("login alice pw\nfly away\n", &a, &err));
  EXPECT_EQ(err, "line 2: unknown action 'fly'");
  EXPECT_FALSE(parse_script("login alice\n", &a, &err));
  EXPECT_EQ(err, "line 1: wrong number of arguments for login");
  EXPECT_FALSE(parse_script("wait status DONE\n", &a, &err));
  EXPECT_NE(err.find("unknown status 'DONE'"), std::string::npos);
  EXPECT_FALSE(parse_script("wait forever\n", &a, &err));
  EXPECT_EQ(err, "line 1: unknown wait 'forever'");
  EXPECT_FALSE(parse_script("timeout soon\n", &a, &err));
  EXPECT_FALSE(parse_script("wait message\n", &a, &err));
}
