/*
 * ferry.h - the ferry client SDK (C99).
 *
 * The only public header of the SDK. Plain C99: no C++ or libuv types cross it.
 *
 * Model
 *   A ferry_client_t is a *handle*: it owns a connection to a chat server, an internal thread
 *   running its own libuv loop, and (optionally) a state directory holding the session token,
 *   the outbox of unsent messages and the highest message id seen. The app learns what happens
 *   through *events*, taken from a thread-safe queue with ferry_poll_event(), or by watching
 *   ferry_event_fd() in its own loop (readable while events wait).
 *
 * Threads
 *   Every function marked "any thread" may be called from any thread, concurrently. ferry never
 *   calls into the app: there are no callbacks, only events, so no app code runs on ferry's
 *   thread. ferry_client_destroy() must not race with other calls on the same client.
 *
 * Errors
 *   Every call returns an int: 0 (FERRY_OK) or a negative FERRY_E* code. ferry_strerror() and
 *   ferry_err_name() describe a code. See docs/errors.md.
 *
 * Ownership
 *   Strings passed in are copied before the call returns. Events returned by ferry_poll_event()
 *   are owned by the app until ferry_event_free(); every pointer inside an event lives exactly
 *   as long as the event.
 */
#ifndef FERRY_H
#define FERRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FERRY_VERSION_MAJOR 0
#define FERRY_VERSION_MINOR 1
#define FERRY_VERSION_PATCH 0
/* 0xMMmmpp: comparable with <, > */
#define FERRY_VERSION_HEX \
  ((FERRY_VERSION_MAJOR << 16) | (FERRY_VERSION_MINOR << 8) | FERRY_VERSION_PATCH)
#define FERRY_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define FERRY_EXTERN __attribute__((visibility("default")))
#else
#define FERRY_EXTERN
#endif

/* ---------------------------------------------------------------------------------------------
 * Error codes. Never renumbered or reused. XX(name, value, message).
 * ------------------------------------------------------------------------------------------- */
#define FERRY_ERRNO_MAP(XX)                                                              \
  XX(EINVAL, -1, "invalid argument")                                                     \
  XX(ENOMEM, -2, "out of memory")                                                        \
  XX(ETIMEDOUT, -3, "timed out")                                                         \
  XX(ECANCELED, -4, "canceled")                                                          \
  XX(ENOTCONN, -5, "not connected to the server")                                        \
  XX(ENOTAUTH, -6, "not logged in: register or log in first")                            \
  XX(EAUTH, -7, "authentication failed: wrong user name, password or expired session")  \
  XX(EUSEREXISTS, -8, "that user name is taken")                                         \
  XX(EBADUSER, -9, "bad user name: 3-32 of a-z 0-9 _ . -, starting with a letter")        \
  XX(EBADPASSWORD, -10, "bad password: 8 to 1024 bytes")                                 \
  XX(EUNKNOWNUSER, -11, "no such user")                                                  \
  XX(EBADTEXT, -12, "bad text: empty, over 65536 bytes, or not UTF-8")                   \
  XX(EPROTO, -13, "protocol error: the server sent something unexpected")               \
  XX(EVERSION, -14, "protocol version mismatch between client and server")             \
  XX(ESERVER, -15, "the server failed to handle the request; try again later")         \
  XX(ESTATE, -16, "cannot open or write the state directory")                           \
  XX(EIO, -17, "input/output error")                                                     \
  XX(ECONNREFUSED, -18, "connection refused")                                           \
  XX(ECLOSED, -19, "the client is shutting down")                                       \
  XX(ERESOLVE, -20, "cannot resolve the server address")                                \
  XX(ESLOW, -21, "disconnected by the server for reading too slowly")                    \
  XX(EIDLE, -22, "connection timed out (no heartbeat)")                                  \
  XX(ENOFILE, -23, "cannot open or read the file")                                       \
  XX(ESOURCECHANGED, -24, "the file changed or disappeared during the upload")           \
  XX(ENORESOURCE, -25, "no resource server is available; the upload will retry")         \
  XX(EDISKFULL, -26, "the server is out of disk space; the upload resumes when it frees") \
  XX(ECORRUPT, -27, "the uploaded bytes did not match the file's SHA-256")               \
  XX(ENOTFOUND, -28, "no such upload, download or message")                               \
  XX(ENOTREADY, -29, "the media message is not ready: still uploading, cancelled or failed") \
  XX(EHASHMISMATCH, -30, "the downloaded file did not match the message's SHA-256")        \
  XX(EHTTP, -31, "the download failed: HTTP error or transfer failure")

typedef enum ferry_err {
  FERRY_OK = 0,
#define FERRY_ERR_ENUM(name, value, msg) FERRY_##name = value,
  FERRY_ERRNO_MAP(FERRY_ERR_ENUM)
#undef FERRY_ERR_ENUM
  FERRY_ERR_LAST_ = -32
} ferry_err;

/* Human-readable description of an error code; never NULL; static storage. Any thread. */
FERRY_EXTERN const char* ferry_strerror(int err);
/* The code's name ("FERRY_EAUTH"); never NULL; static storage. Any thread. */
FERRY_EXTERN const char* ferry_err_name(int err);

/* Runtime version: FERRY_VERSION_HEX of the library actually linked. Any thread. */
FERRY_EXTERN unsigned int ferry_version(void);
FERRY_EXTERN const char* ferry_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Options: an opaque bag of settings, one setter per field so new settings never break the ABI.
 * The app owns it; ferry_client_new() copies what it needs, so it may be destroyed right after.
 * ------------------------------------------------------------------------------------------- */
typedef struct ferry_options ferry_options_t;

/* Returns NULL only when out of memory. */
FERRY_EXTERN ferry_options_t* ferry_options_new(void);
FERRY_EXTERN void ferry_options_destroy(ferry_options_t* opts);
/* "HOST:PORT" of the chat server (default "127.0.0.1:7420"). FERRY_EINVAL if malformed. */
FERRY_EXTERN int ferry_options_set_server(ferry_options_t* opts, const char* host_port);
/* Directory for the session token, the outbox and sync position (created if missing).
 * NULL (the default) keeps all of it in memory: nothing survives ferry_client_destroy(). */
FERRY_EXTERN int ferry_options_set_state_dir(ferry_options_t* opts, const char* dir);
/* Reconnect backoff: first delay and cap, in ms (defaults 200 and 10000). Each failed attempt
 * doubles the delay up to the cap, with +-25% random jitter. FERRY_EINVAL if min > max or 0. */
FERRY_EXTERN int ferry_options_set_reconnect(ferry_options_t* opts, uint32_t min_ms,
                                             uint32_t max_ms);
/* Interval between heartbeats when idle, in ms (default 10000, minimum 100). */
FERRY_EXTERN int ferry_options_set_heartbeat(ferry_options_t* opts, uint32_t interval_ms);
/* Whether the client receives messages (default 1). With 0 it is send-only: it does not sync,
 * reports no FERRY_EVENT_MESSAGE and leaves the stored sync position alone, so that another
 * client on the same state directory (say, a `ferry listen`) still gets every message it has
 * not seen. Sends, status events and history work as usual. FERRY_EINVAL if opts is NULL. */
FERRY_EXTERN int ferry_options_set_receive(ferry_options_t* opts, int enabled);
/* Connections to the resource server that uploads may use at once, at most (default 16, at
 * most 16). On a long or lossy link one TCP connection is capped by loss and round-trip time,
 * so the SDK adds connections while the measured upload goodput rises by a clear margin and
 * closes them when it does not; on a clean link it settles on one. 1 = always one connection.
 * FERRY_EINVAL if opts is NULL, `max` is 0 or above 16. */
FERRY_EXTERN int ferry_options_set_upload_connections(ferry_options_t* opts, uint32_t max);

/* ---------------------------------------------------------------------------------------------
 * Shared loop: one ferry thread for many clients of one process. By default every client runs
 * its own thread; a process with hundreds of clients (a bot host, a load generator) saves a
 * thread wake-up per message by sharing one. The clients stay independent (own connection,
 * state, commands and events); only the thread running them is shared, and events of one loop
 * iteration are published together.
 * ------------------------------------------------------------------------------------------- */
typedef struct ferry_loop ferry_loop_t;

/* Starts a loop thread. Returns FERRY_OK and sets *out, or FERRY_EINVAL (NULL), FERRY_ENOMEM,
 * FERRY_EIO (no thread or eventfd). Any thread. */
FERRY_EXTERN int ferry_loop_new(ferry_loop_t** out);
/* Releases the app's reference. The thread ends when the last client on it is destroyed (and
 * no options object still refers to it), so this may come before or after those. NULL is a
 * no-op. Any thread, not concurrently with ferry_options_set_loop() on the same loop. */
FERRY_EXTERN void ferry_loop_destroy(ferry_loop_t* loop);
/* Clients created with these options run on `loop`; NULL (the default) gives each client its
 * own thread. The options hold a reference to the loop until destroyed or set again. Returns
 * FERRY_EINVAL if opts is NULL. Any thread. */
FERRY_EXTERN int ferry_options_set_loop(ferry_options_t* opts, ferry_loop_t* loop);

/* ---------------------------------------------------------------------------------------------
 * Client handle.
 * ------------------------------------------------------------------------------------------- */
typedef struct ferry_client ferry_client_t;

/* Creates a client and starts its thread (or joins the loop set with ferry_options_set_loop),
 * which connects to the server at once and keeps reconnecting until destroyed. If the state
 * directory holds a session, the client re-authenticates with it by itself, syncs what it
 * missed and sends its outbox.
 * Returns FERRY_OK and sets *out, or FERRY_EINVAL (NULL argument), FERRY_ESTATE (state
 * directory unusable), FERRY_ENOMEM. Any thread. */
FERRY_EXTERN int ferry_client_new(const ferry_options_t* opts, ferry_client_t** out);

/* Stops the thread (leaves a shared loop, whose other clients carry on), closes the connection
 * and frees the client and every queued event. Messages in the outbox stay in the state
 * directory (if any) and go out on the next start. Events already taken by the app stay valid
 * until ferry_event_free(). Must not race with other calls on this client. NULL is a no-op. */
FERRY_EXTERN void ferry_client_destroy(ferry_client_t* client);

/* A pointer ferry never reads. Any thread. */
FERRY_EXTERN void ferry_client_set_data(ferry_client_t* client, void* data);
FERRY_EXTERN void* ferry_client_get_data(const ferry_client_t* client);

/* Copies the logged-in user name (NUL-terminated) into buf. FERRY_ENOTAUTH when no session
 * is held, FERRY_EINVAL when buf is too small (names fit in 33 bytes). Any thread. */
FERRY_EXTERN int ferry_client_user(ferry_client_t* client, char* buf, size_t buf_len);

/* ---------------------------------------------------------------------------------------------
 * Requests. Each returns at once; its result arrives as an event carrying the same request_id
 * (written to *request_id when that pointer is not NULL). Request ids are never 0.
 * ------------------------------------------------------------------------------------------- */

/* Creates an account and logs in. Result: FERRY_EVENT_AUTH, status 0 or FERRY_EUSEREXISTS,
 * FERRY_EBADUSER, FERRY_EBADPASSWORD, FERRY_ENOTCONN (offline for longer than 30 s). The
 * session is saved in the state directory. Any thread. */
FERRY_EXTERN int ferry_register(ferry_client_t* client, const char* user, const char* password,
                                uint64_t* request_id);
/* Logs in. Result: FERRY_EVENT_AUTH, status 0 or FERRY_EAUTH / FERRY_ENOTCONN. Any thread. */
FERRY_EXTERN int ferry_login(ferry_client_t* client, const char* user, const char* password,
                             uint64_t* request_id);
/* Forgets the session (and revokes it on the server when online). Any thread. */
FERRY_EXTERN int ferry_logout(ferry_client_t* client);

/* Size of a local message id including the terminating NUL. */
#define FERRY_LOCAL_ID_SIZE 33

/* Queues a text message to `to`. The message is in the outbox (and in the state directory)
 * when this returns: it goes out now or after reconnecting, survives an app restart, and
 * reaches the receiver exactly once. Progress comes as FERRY_EVENT_MESSAGE_STATUS events for
 * its local id (written to local_id when not NULL): SENT with the server id, or FAILED with a
 * reason (FERRY_EUNKNOWNUSER, FERRY_EBADTEXT). Returns FERRY_ENOTAUTH when no session is held,
 * FERRY_EBADTEXT for empty/oversized/non-UTF-8 text, FERRY_ESTATE if the outbox cannot be
 * written. Any thread. */
FERRY_EXTERN int ferry_send_text(ferry_client_t* client, const char* to, const char* text,
                                 char local_id[FERRY_LOCAL_ID_SIZE]);

/* Sends a file as a media message. Returns at once: the upload is recorded in the state
 * directory before this returns, and the rest happens on ferry's thread. It probes the file
 * (MIME type from its bytes; for images and videos their size, duration and a JPEG thumbnail
 * of at most 320 px), hashes it (SHA-256), announces it to the chat server (the receiver sees
 * the message with its thumbnail at once, status UPLOADING), then uploads the bytes to the
 * resource server in chunks, resuming from what the server holds after a cut connection, a
 * server restart or an app restart (pending uploads continue when a client opens the same
 * state directory). Events: FERRY_EVENT_MESSAGE_STATUS (PENDING -> UPLOADING with the server
 * id -> READY, or FAILED / CANCELLED with a reason) and FERRY_EVENT_UPLOAD_PROGRESS.
 * `kind`: ferry_media_kind. `display_name`: shown to the receiver; NULL = the file's base name.
 * If this sender already uploaded a file with the same SHA-256, it is READY at once without
 * uploading again. The file must stay unchanged until READY: a change or deletion fails the
 * message with FERRY_ESOURCECHANGED.
 * Returns FERRY_ENOTAUTH (no session), FERRY_ENOFILE (cannot open or stat `path`, or not a
 * regular file), FERRY_EINVAL, FERRY_ESTATE. Any thread. */
FERRY_EXTERN int ferry_send_file(ferry_client_t* client, const char* to, const char* path,
                                 int kind, const char* display_name,
                                 char local_id[FERRY_LOCAL_ID_SIZE]);
/* Pauses / resumes one of this client's uploads (by local id). A paused upload sends nothing
 * and stays paused across reconnects; it is not paused after an app restart. Returns
 * FERRY_ENOTFOUND for an unknown or finished upload. Any thread. */
FERRY_EXTERN int ferry_upload_pause(ferry_client_t* client, const char* local_id);
FERRY_EXTERN int ferry_upload_resume(ferry_client_t* client, const char* local_id);
/* Cancels an upload: the message becomes CANCELLED for both parties and the resource server
 * frees its space. FERRY_ENOTFOUND for an unknown or finished upload. Any thread. */
FERRY_EXTERN int ferry_upload_cancel(ferry_client_t* client, const char* local_id);

/* One pending upload, as listed by ferry_uploads_list(). */
typedef struct ferry_upload_info {
  const char* local_id;
  uint64_t message_id; /* 0 until the chat server stored the message */
  const char* to;
  const char* path;    /* the local file being uploaded */
  const char* name;    /* display name */
  uint64_t size;
  uint64_t done;       /* bytes the resource server held durably, as last known */
  int paused;
} ferry_upload_info_t;

/* Lists this client's uploads that are not finished. On success *list (free it with
 * ferry_uploads_free) holds *count entries (possibly 0). Any thread. */
FERRY_EXTERN int ferry_uploads_list(ferry_client_t* client, ferry_upload_info_t** list,
                                    size_t* count);
FERRY_EXTERN void ferry_uploads_free(ferry_upload_info_t* list, size_t count);
/* Connections to the resource server the uploads use: *current now, *peak the most at once
 * since the client started (see ferry_options_set_upload_connections). Either pointer may be
 * NULL. FERRY_EINVAL if client is NULL. Any thread. */
FERRY_EXTERN int ferry_client_upload_connections(ferry_client_t* client, uint32_t* current,
                                                 uint32_t* peak);

/* ---------------------------------------------------------------------------------------------
 * Downloads: the receiving side of media messages (either party of a conversation may
 * download its media once it is READY). The SDK asks the chat server for a signed URL and
 * fetches the file over HTTP on its own thread, writing to "<dest_path>.part"; a cut
 * connection, a resource-server restart or an app restart resumes from the bytes already in
 * that file (pending downloads are recorded in the state directory and continue by themselves
 * once a client opens it and is online). At the end the whole file's SHA-256 is checked
 * against the message's and the file is moved into place atomically: dest_path either does
 * not exist (or keeps its old content) or holds the complete, verified file.
 * ------------------------------------------------------------------------------------------- */

/* Starts (or continues) downloading the media of message `message_id` into dest_path (an
 * existing file there is replaced once the new one is verified). The download is recorded in
 * the state directory before this returns. Asking again for a download already pending with
 * the same dest_path returns 0 and changes nothing. Events: FERRY_EVENT_DOWNLOAD_STATUS
 * (FETCHING, RETRYING, PAUSED, VERIFYING, then DONE, or FAILED with FERRY_ENOTREADY (still
 * uploading: nothing is written), FERRY_ENOTFOUND, FERRY_EHASHMISMATCH, FERRY_EHTTP,
 * FERRY_EIO, or CANCELLED) and FERRY_EVENT_DOWNLOAD_PROGRESS.
 * Returns FERRY_ENOTAUTH (no session), FERRY_EINVAL (NULL/empty path, id 0, or the message is
 * already being downloaded to another path), FERRY_ENOFILE (dest_path's directory does not
 * exist), FERRY_ESTATE. Any thread. */
FERRY_EXTERN int ferry_download(ferry_client_t* client, uint64_t message_id,
                                const char* dest_path);
/* Pauses / resumes a pending download (by message id). A paused download keeps its partial
 * file and stays paused across reconnects and app restarts until resumed. FERRY_ENOTFOUND
 * for a download that is not pending. Any thread. */
FERRY_EXTERN int ferry_download_pause(ferry_client_t* client, uint64_t message_id);
FERRY_EXTERN int ferry_download_resume(ferry_client_t* client, uint64_t message_id);
/* Cancels a pending download and deletes its partial file; a CANCELLED status follows.
 * FERRY_ENOTFOUND for a download that is not pending. Any thread. */
FERRY_EXTERN int ferry_download_cancel(ferry_client_t* client, uint64_t message_id);

/* Asks the chat server for a signed download URL of a READY media message, valid for ttl_s
 * seconds (1..604800; 0 = the server's default, one hour). It works with curl and browsers.
 * Result: FERRY_EVENT_DOWNLOAD_URL carrying request_id, status 0 or FERRY_ENOTREADY,
 * FERRY_ENOTFOUND (no such message, or not this user's), FERRY_ENORESOURCE (no resource
 * server with HTTP), FERRY_ENOTCONN (offline for longer than 30 s). Any thread. */
FERRY_EXTERN int ferry_download_url(ferry_client_t* client, uint64_t message_id, uint32_t ttl_s,
                                    uint64_t* request_id);

/* One pending download, as listed by ferry_downloads_list(). */
typedef struct ferry_download_info {
  uint64_t message_id;
  const char* path; /* the destination */
  const char* name; /* display name ("" until the chat server answered) */
  uint64_t size;    /* 0 until the chat server answered */
  int paused;
} ferry_download_info_t;

/* Lists the downloads of this state directory that are not finished, oldest first. On success
 * *list (free it with ferry_downloads_free) holds *count entries (possibly 0). Any thread. */
FERRY_EXTERN int ferry_downloads_list(ferry_client_t* client, ferry_download_info_t** list,
                                      size_t* count);
FERRY_EXTERN void ferry_downloads_free(ferry_download_info_t* list, size_t count);

/* Asks for a page of the conversation with `peer`: messages with id < before_id (0 = newest),
 * the newest `limit` (1..1000) of them. Result: FERRY_EVENT_HISTORY. Any thread. */
FERRY_EXTERN int ferry_history(ferry_client_t* client, const char* peer, uint64_t before_id,
                               uint32_t limit, uint64_t* request_id);

/* ---------------------------------------------------------------------------------------------
 * Events.
 * ------------------------------------------------------------------------------------------- */
typedef enum ferry_event_type {
  FERRY_EVENT_CONNECTION = 1,     /* u.connection: the connection state changed */
  FERRY_EVENT_AUTH = 2,           /* u.auth: result of register/login or of a stored session */
  FERRY_EVENT_MESSAGE = 3,        /* u.message: a new message (from the peer, or sent by this
                                     user from another device) */
  FERRY_EVENT_MESSAGE_STATUS = 4, /* u.message: a message changed status: one of this client's
                                     sends, or a media message it received (READY, ...) */
  FERRY_EVENT_HISTORY = 5,        /* u.history: a page asked for with ferry_history() */
  FERRY_EVENT_SYNCED = 6,         /* caught up with the server after (re)connecting */
  FERRY_EVENT_UPLOAD_PROGRESS = 7, /* u.progress: bytes of a media message the server holds */
  FERRY_EVENT_DOWNLOAD_PROGRESS = 8, /* u.download: bytes of a download on disk */
  FERRY_EVENT_DOWNLOAD_STATUS = 9,   /* u.download: a download changed state */
  FERRY_EVENT_DOWNLOAD_URL = 10      /* u.url: the answer to ferry_download_url() */
} ferry_event_type;

typedef enum ferry_download_state {
  FERRY_DOWNLOAD_FETCHING = 1,  /* an HTTP request started at byte `done` (> 0: resumed) */
  FERRY_DOWNLOAD_RETRYING = 2,  /* a transient failure (event status says why); retried with
                                   backoff from the bytes already on disk */
  FERRY_DOWNLOAD_PAUSED = 3,    /* ferry_download_pause() took effect */
  FERRY_DOWNLOAD_VERIFYING = 4, /* every byte is on disk; checking the SHA-256 */
  FERRY_DOWNLOAD_DONE = 5,      /* verified and moved into place at `path` */
  FERRY_DOWNLOAD_FAILED = 6,    /* gave up; status says why; the partial file is deleted */
  FERRY_DOWNLOAD_CANCELLED = 7  /* ferry_download_cancel(); the partial file is deleted */
} ferry_download_state;

typedef enum ferry_conn_state {
  FERRY_CONN_OFFLINE = 0,    /* not connected; status says why; a retry is scheduled */
  FERRY_CONN_CONNECTING = 1, /* dialing or greeting */
  FERRY_CONN_CONNECTED = 2,  /* connected, no session: register or log in */
  FERRY_CONN_ONLINE = 3      /* connected and authenticated */
} ferry_conn_state;

typedef enum ferry_msg_status {
  FERRY_MSG_PENDING = 1, /* in the outbox, not yet acknowledged */
  FERRY_MSG_SENT = 2,    /* durably stored by the server; id is set */
  FERRY_MSG_FAILED = 3,  /* refused by the server, or (media) the upload failed for good;
                            event status says why; not retried */
  FERRY_MSG_UPLOADING = 4, /* media: stored and shown to the receiver; bytes still uploading */
  FERRY_MSG_READY = 5,     /* media: every byte uploaded and verified; downloadable */
  FERRY_MSG_CANCELLED = 6  /* media: the sender cancelled the upload */
} ferry_msg_status;

typedef enum ferry_media_kind {
  FERRY_KIND_AUTO = 0,  /* ferry_send_file: image or video if the bytes say so, else file */
  FERRY_KIND_IMAGE = 1,
  FERRY_KIND_VIDEO = 2,
  FERRY_KIND_FILE = 3
} ferry_media_kind;

/* What a media message carries besides its status. Lives as long as its event. */
typedef struct ferry_media {
  int kind;                   /* ferry_media_kind (never AUTO) */
  const char* name;           /* display name as the sender gave it: show it, never use it as
                                 a path */
  uint64_t size;              /* bytes */
  const char* mime;           /* from the file's bytes, e.g. "image/jpeg" */
  const char* sha256;         /* 64 lowercase hex digits of the whole file */
  uint32_t width;             /* images and videos, else 0 */
  uint32_t height;
  uint64_t duration_ms;       /* videos, else 0 */
  const unsigned char* thumb; /* JPEG preview (at most 320 px), or NULL */
  size_t thumb_len;
  uint64_t progress;          /* bytes the resource server holds durably, as last known */
} ferry_media_t;

typedef struct ferry_message {
  uint64_t id;          /* server id (increasing); 0 while pending */
  const char* local_id; /* sender's unique id for the message */
  const char* from;     /* sender's user name */
  const char* to;       /* receiver's user name */
  const char* kind;     /* "text" */
  const char* text;     /* UTF-8, NUL-terminated */
  int64_t ts_ms;        /* server commit time, ms since the Unix epoch; 0 while pending */
  int status;           /* ferry_msg_status */
  const ferry_media_t* media; /* NULL for text messages */
} ferry_message_t;

typedef struct ferry_event {
  int type;            /* ferry_event_type */
  int status;          /* FERRY_OK or the error this event reports */
  uint64_t request_id; /* the request this answers (AUTH, HISTORY, DOWNLOAD_URL), else 0 */
  const char* detail;  /* human-readable detail for status (may be ""), never NULL */
  union {
    struct {
      int state; /* ferry_conn_state */
    } connection;
    struct {
      const char* user;
      uint64_t user_id;
    } auth;
    ferry_message_t message;
    struct {
      const char* local_id; /* the message's sender-side id (cid) */
      uint64_t message_id;  /* server id, 0 before the server stored the message */
      uint64_t done;        /* bytes durably held by the resource server */
      uint64_t total;       /* file size */
      int outgoing;         /* 1: this client's own upload (at most every 100 ms or 1%);
                               0: the peer's upload as relayed by the chat server (every 5%) */
    } progress;
    struct {
      uint64_t message_id;
      int state;        /* ferry_download_state (DOWNLOAD_STATUS); FETCHING for PROGRESS */
      uint64_t done;    /* bytes on disk (PROGRESS: at most every 100 ms or 1%, plus the
                           last); FETCHING: the offset this request starts from */
      uint64_t total;   /* file size (0 while not yet known) */
      const char* path; /* the destination path */
    } download;
    struct {
      uint64_t message_id;
      const char* url;    /* http://HOST:PORT/m/ID?t=TICKET */
      const char* ticket; /* the signed ticket alone (for an Authorization: Bearer header) */
      int64_t expires_ms; /* ms since the Unix epoch */
      uint64_t size;
      const char* sha256; /* 64 lowercase hex digits */
      const char* name;   /* display name: show it, never use it as a path */
      const char* mime;
    } url;
    struct {
      const char* peer;
      const ferry_message_t* messages; /* ascending by id */
      size_t count;
      int more; /* 1 if older messages exist */
    } history;
  } u;
} ferry_event_t;

/* Takes the oldest waiting event. Waits up to timeout_ms (0 = do not wait, -1 = forever).
 * Returns FERRY_OK and sets *out (free it with ferry_event_free), or FERRY_ETIMEDOUT when none
 * arrived in time. Any thread. */
FERRY_EXTERN int ferry_poll_event(ferry_client_t* client, ferry_event_t** out, int timeout_ms);

/* Frees an event from ferry_poll_event(). NULL is a no-op. Any thread. */
FERRY_EXTERN void ferry_event_free(ferry_event_t* event);

/* A file descriptor that is readable while events wait (level-triggered: it stays readable
 * until the queue is empty). Owned by the client: do not read or close it. Any thread. */
FERRY_EXTERN int ferry_event_fd(ferry_client_t* client);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_H */
