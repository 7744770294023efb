// Child processes of ferry-link (see children.h).
#include "harness/link/uv/children.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ferry::link {

pid_t spawn_in_netns(int ns_fd, const std::string& command) {
  // Blocked across fork so that no handler of ours (libuv's signal pipe) runs in the child
  // before exec has reset it.
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(125);  // ferry-link died before the line above
    if (setns(ns_fd, CLONE_NEWNET) != 0) _exit(126);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) setpgid(pid, pid);  // also here, so the group exists whoever runs first
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return pid;
}

void signal_child(pid_t pid, int sig) {
  if (pid <= 0) return;
  kill(-pid, sig);
  kill(pid, sig);
}

int shell_status(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

}  // namespace ferry::link
