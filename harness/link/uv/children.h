// The commands ferry-link runs inside its namespaces (like `ip netns exec NAME sh -c CMD`).
//
// Checklist:
//   [x] fork, setns(CLONE_NEWNET) in the child, then exec /bin/sh -c CMD
//   [x] each child leads its own process group, so stopping it also stops what its shell
//       started; PR_SET_PDEATHSIG(SIGTERM) so a ferry-link killed by SIGKILL takes the child
//       along
//   [x] signals blocked across fork, and reset to their defaults in the child before exec
//   [ ] no private mount namespace: unlike `ip netns exec`, /sys still shows the parent's
//       interfaces, and /etc/netns/NAME files are not bind-mounted
#pragma once

#include <sys/types.h>

#include <string>

namespace ferry::link {

// Starts /bin/sh -c `command` in the network namespace `ns_fd`. Returns the pid, or -1.
pid_t spawn_in_netns(int ns_fd, const std::string& command);

// Sends `sig` to the child's process group (and to the child itself, should it have left
// the group).
void signal_child(pid_t pid, int sig);

// Exit status as a shell reports it: the code, or 128 + the signal.
int shell_status(int wait_status);

}  // namespace ferry::link
