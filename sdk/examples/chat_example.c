/*
 * chat_example.c - a complete ferry client in plain C99.
 *
 * Registers USER (or logs in if the name is taken), sends one message to PEER, then prints
 * every event until COUNT messages have arrived or TIMEOUT seconds have passed.
 *
 *   ferry-example-c HOST:PORT USER PASSWORD PEER [COUNT [TIMEOUT]]
 *   ferry-example-c --version    prints the library version; exit 1 if it differs from the
 *                                header this program was compiled against
 *
 * Build: cc -std=c99 chat_example.c $(pkg-config --cflags --libs ferry)
 */
#include <ferry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE* out) {
  fprintf(out,
          "usage: ferry-example-c HOST:PORT USER PASSWORD PEER [COUNT [TIMEOUT]]\n"
          "       ferry-example-c --version | --help\n"
          "Registers USER (or logs in), sends a message to PEER and prints events until\n"
          "COUNT messages (default 1) arrive or TIMEOUT seconds (default 30) pass.\n");
}

static const char* state_name(int state) {
  switch (state) {
    case FERRY_CONN_OFFLINE:
      return "offline";
    case FERRY_CONN_CONNECTING:
      return "connecting";
    case FERRY_CONN_CONNECTED:
      return "connected";
    case FERRY_CONN_ONLINE:
      return "online";
    default:
      return "?";
  }
}

/* Prints one event. Returns 1 when it is a new message, 0 otherwise. */
static int print_event(const ferry_event_t* ev) {
  const ferry_message_t* m = &ev->u.message;
  size_t i;
  switch (ev->type) {
    case FERRY_EVENT_CONNECTION:
      printf("connection: %s", state_name(ev->u.connection.state));
      if (ev->status != FERRY_OK) printf(" (%s: %s)", ferry_err_name(ev->status), ev->detail);
      printf("\n");
      return 0;
    case FERRY_EVENT_AUTH:
      if (ev->status == FERRY_OK)
        printf("logged in as %s\n", ev->u.auth.user);
      else
        printf("auth failed: %s\n", ferry_strerror(ev->status));
      return 0;
    case FERRY_EVENT_MESSAGE:
      printf("[%llu] %s -> %s: %s\n", (unsigned long long)m->id, m->from, m->to, m->text);
      return 1;
    case FERRY_EVENT_MESSAGE_STATUS:
      if (m->status == FERRY_MSG_SENT) {
        printf("sent %s as [%llu]\n", m->local_id, (unsigned long long)m->id);
      } else {
        printf("send %s failed: %s\n", m->local_id, ferry_strerror(ev->status));
      }
      return 0;
    case FERRY_EVENT_HISTORY:
      for (i = 0; i < ev->u.history.count; i++) {
        printf("history [%llu] %s\n", (unsigned long long)ev->u.history.messages[i].id,
               ev->u.history.messages[i].text);
      }
      return 0;
    case FERRY_EVENT_SYNCED:
      printf("synced\n");
      return 0;
    default:
      return 0;
  }
}

/* Waits for the AUTH event answering request `rid`; returns its status. */
static int wait_auth(ferry_client_t* client, uint64_t rid, time_t deadline) {
  while (time(NULL) < deadline) {
    ferry_event_t* ev = NULL;
    int status;
    if (ferry_poll_event(client, &ev, 500) != FERRY_OK) continue;
    print_event(ev);
    if (ev->type == FERRY_EVENT_AUTH && ev->request_id == rid) {
      status = ev->status;
      ferry_event_free(ev);
      return status;
    }
    ferry_event_free(ev);
  }
  return FERRY_ETIMEDOUT;
}

static int run(ferry_client_t* client, char** argv, long count, long timeout_s) {
  time_t deadline = time(NULL) + timeout_s;
  char local_id[FERRY_LOCAL_ID_SIZE];
  char text[128];
  uint64_t rid = 0;
  long received = 0;
  int rc;

  ferry_register(client, argv[2], argv[3], &rid);
  rc = wait_auth(client, rid, deadline);
  if (rc == FERRY_EUSEREXISTS) {
    ferry_login(client, argv[2], argv[3], &rid);
    rc = wait_auth(client, rid, deadline);
  }
  if (rc != FERRY_OK) {
    fprintf(stderr, "cannot log in as %s: %s\n", argv[2], ferry_strerror(rc));
    return 1;
  }
  sprintf(text, "hello from %.64s", argv[2]);
  rc = ferry_send_text(client, argv[4], text, local_id);
  if (rc != FERRY_OK) {
    fprintf(stderr, "send: %s\n", ferry_strerror(rc));
    return 1;
  }
  while (received < count && time(NULL) < deadline) {
    ferry_event_t* ev = NULL;
    if (ferry_poll_event(client, &ev, 500) != FERRY_OK) continue;
    received += print_event(ev);
    ferry_event_free(ev);
  }
  if (received < count) {
    fprintf(stderr, "timed out after %ld of %ld messages\n", received, count);
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  ferry_options_t* opts;
  ferry_client_t* client = NULL;
  long count = 1, timeout_s = 30;
  int rc;

  if (argc == 2 && strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("ferry %s (header %s)\n", ferry_version_string(), FERRY_VERSION_STRING);
    return ferry_version() == FERRY_VERSION_HEX ? 0 : 1;
  }
  if (argc < 5 || argc > 7) {
    usage(stderr);
    return 2;
  }
  if (argc > 5) count = strtol(argv[5], NULL, 10);
  if (argc > 6) timeout_s = strtol(argv[6], NULL, 10);

  opts = ferry_options_new();
  if (!opts) return 1;
  rc = ferry_options_set_server(opts, argv[1]);
  if (rc == FERRY_OK) rc = ferry_client_new(opts, &client);
  ferry_options_destroy(opts); /* the client keeps its own copy */
  if (rc != FERRY_OK) {
    fprintf(stderr, "ferry: %s\n", ferry_strerror(rc));
    return 1;
  }
  rc = run(client, argv, count, timeout_s);
  ferry_client_destroy(client);
  return rc;
}
