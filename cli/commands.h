// The CLI's commands. Each returns the process exit status: 0 success, 1 failure (already
// explained on stderr).
#pragma once

#include "cli/args.h"

namespace ferry::cli {

int cmd_register(const Args& args);
int cmd_login(const Args& args);
int cmd_send(const Args& args);
int cmd_listen(const Args& args);
int cmd_history(const Args& args);
int cmd_logout(const Args& args);
int cmd_send_file(const Args& args);
int cmd_uploads(const Args& args);
int cmd_upload_pause(const Args& args);
int cmd_upload_resume(const Args& args);
int cmd_upload_cancel(const Args& args);
int cmd_download(const Args& args);
int cmd_url(const Args& args);

}  // namespace ferry::cli
