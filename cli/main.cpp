// ferry: the command-line chat client, built on the public SDK (ferry.h) only.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

int main(int argc, char** argv) {
  using namespace ferry::cli;
  Args args;
  std::string err;
  if (!parse_args(argc, argv, args, err)) {
    print_error(err);
    std::fprintf(stderr, "Try `ferry --help`.\n");
    return 2;
  }
  if (args.help) {
    std::fputs(help_text(args.command).c_str(), stdout);
    return 0;
  }
  if (args.command == "register") return cmd_register(args);
  if (args.command == "login") return cmd_login(args);
  if (args.command == "send") return cmd_send(args);
  if (args.command == "listen") return cmd_listen(args);
  if (args.command == "history") return cmd_history(args);
  if (args.command == "logout") return cmd_logout(args);
  if (args.command == "send-file") return cmd_send_file(args);
  if (args.command == "uploads") return cmd_uploads(args);
  if (args.command == "upload-pause") return cmd_upload_pause(args);
  if (args.command == "upload-resume") return cmd_upload_resume(args);
  if (args.command == "upload-cancel") return cmd_upload_cancel(args);
  if (args.command == "download") return cmd_download(args);
  if (args.command == "url") return cmd_url(args);
  print_error("unknown command '" + args.command + "'");  // parse_args already refuses these
  return 2;
}
