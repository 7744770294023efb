// The app's one SDK client: owns the ferry_client_t, drains its events into the AppModel and
// turns the person's actions (log in, send, download, pause...) into ferry.h calls, recording
// in the model what it asked for. Only ferry.h is used.
#pragma once

#include <ferry.h>

#include <string>

#include "gui/model/model.h"

namespace ferry::gui {

class FerryLink {
 public:
  explicit FerryLink(AppModel& model) : model_(model) {}
  ~FerryLink();
  FerryLink(const FerryLink&) = delete;
  FerryLink& operator=(const FerryLink&) = delete;

  // Creates the client (connects at once). Returns 0 or a FERRY_E* code; *why explains.
  int start(const std::string& server, const std::string& state_dir, std::string* why);
  // The fd that is readable while events wait (for the platform's wait), or -1.
  int event_fd() const;
  // Takes every waiting event into the model. Returns the number of events taken.
  int drain();

  int login(const std::string& user, const std::string& password, bool create);
  void logout();
  // Sends text (or a file) to the open conversation's peer; the bubble appears at once.
  int send_text(const std::string& peer, const std::string& text);
  int send_file(const std::string& peer, const std::string& path);
  // Sends a FAILED message again under a new local id.
  int retry(Message& m);
  // Asks for the page of history older than what the conversation holds.
  void load_older(Conversation& c);
  void open(const std::string& peer);  // selects a conversation, loads its newest page once

  // Transfers, by bubble.
  // The ring's click: pauses or resumes the bubble's download, else its upload. 0 or FERRY_E*.
  int toggle_pause(Message& m);
  void cancel(Message& m);
  // Downloads a READY media message to dest ("" = the state directory's downloads folder).
  int download(Message& m, const std::string& dest = "");
  uint64_t request_link(const Message& m);  // ferry_download_url; 0 on failure

  const std::string& state_dir() const { return state_dir_; }
  std::string default_download_path(const Message& m) const;

 private:
  std::string peers_path() const;
  void load_peers();  // for the logged-in user
  void save_peers();
  void on_online();
  // A READY media message whose file an earlier run downloaded to the default place shows as
  // downloaded (the SDK forgets finished downloads; the file is the record).
  void find_earlier_download(uint64_t id);

  AppModel& model_;
  ferry_client_t* client_ = nullptr;
  std::string state_dir_;
  size_t saved_peers_ = 0;
  std::string peers_user_;  // whose peers the model holds
  bool was_online_ = false;
};

}  // namespace ferry::gui
