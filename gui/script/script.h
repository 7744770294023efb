// The scripted-action language of `ferry-gui --script FILE`: one action per line, words
// separated by spaces, "double quotes" around a word with spaces (\" and \\ inside), `#`
// starts a comment line. See docs/gui.md for every action. Parsing is pure (unit-tested in
// tests/gui/script_test.cpp); script/runner.h plays the actions.
#pragma once

#include <string>
#include <vector>

namespace ferry::gui {

enum class Op {
  kLogin,       // login USER PASSWORD
  kRegister,    // register USER PASSWORD
  kLogout,      // logout
  kOpen,        // open PEER             (starts the conversation if new)
  kType,        // type TEXT...          (appends to the message being composed)
  kSend,        // send                  (what the Send button does)
  kDrop,        // drop PATH             (as if the file were dropped on the window)
  kDownload,    // download [TEXT]       (clicks a READY media bubble: starts its download)
  kRetry,       // retry [TEXT]          (clicks a FAILED bubble's retry mark)
  kView,        // view [TEXT]           (clicks a downloaded image: the full-size view)
  kPlay,        // play [TEXT]           (clicks a downloaded video: plays it in the app)
  kPause,       // pause [TEXT]          (clicks the progress ring: pause, or resume)
  kWait,        // wait WHAT [ARGS]      (see WaitKind)
  kTimeout,     // timeout SECONDS       (deadline of the waits that follow; default 60)
  kFrames,      // frames N              (renders N frames)
  kScreenshot,  // screenshot FILE.png
  kDump,        // dump FILE.json        (the app's state: conversations and bubbles)
  kQuit,        // quit
};

enum class WaitKind {
  kConnected,     // wait connected        the server answered (logged in or not)
  kOnline,        // wait online           connected and logged in
  kOffline,       // wait offline          the connection is down (the banner shows)
  kLogin,         // wait login            the last login/register succeeded
  kSynced,        // wait synced           caught up after connecting
  kMessage,       // wait message TEXT     a bubble containing TEXT in the open conversation
  kStatus,        // wait status S [TEXT]  that bubble (or the newest) has status S
  kConversation,  // wait conversation P   the list shows a conversation with P
  kDownloaded,    // wait downloaded [TEXT] the media bubble's download is DONE
  kProgress,      // wait progress N [TEXT] its transfer (download, else upload) is >= N %
  kPaused,        // wait paused [TEXT]    its transfer is paused
  kVideo,         // wait video N          the video player has shown N frames
  kThumbnails,    // wait thumbnails       every thumbnail on screen is decoded
};

struct Action {
  Op op = Op::kQuit;
  int line = 0;                   // 1-based line in the script
  std::vector<std::string> args;  // after the verb (for kWait: after WHAT)
  WaitKind wait = WaitKind::kConnected;
  std::string source;  // the line as written, for error messages
};

// Splits a line into words (quotes and escapes as above). False with *err on a bad quote.
bool split_words(const std::string& line, std::vector<std::string>* out, std::string* err);

// Parses a whole script. False with *err = "line N: ..." on the first bad line.
bool parse_script(const std::string& text, std::vector<Action>* out, std::string* err);

}  // namespace ferry::gui
