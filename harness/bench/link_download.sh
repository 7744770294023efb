#!/bin/sh
# Downloads through an emulated link (issue 7 section 2: "downloads may use several ranged
# requests"): ferry-chatd and ferry-resd in ferry-link's namespace A, one upload of FILE from
# namespace B, then `ferry download` in B over and over, alternating the settings of
# FERRY_DOWNLOAD_SEGMENTS given in SEGS ("1" = one connection, "0" = the SDK's own choice
# by round trip). Each download is timed from command start to exit and its SHA-256
# checked. Prints one line per download and the median per setting. Needs root (ferry-link).
#
#   harness/bench/link_download.sh BIN_DIR FILE [RUNS]
#   SPEC="delay 20ms loss 1%" SEGS="1 0" harness/bench/link_download.sh build/bin /tmp/m64 8
set -eu
bin=${1:?usage: link_download.sh BIN_DIR FILE [RUNS]}
file=${2:?usage: link_download.sh BIN_DIR FILE [RUNS]}
runs=${3:-5}
spec=${SPEC:-delay 20ms loss 1%}
segs=${SEGS:-1 0}
dir=$(mktemp -d /tmp/ferry-link-download.XXXXXX)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  for p in $pids; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
wait_line() {  # FILE PATTERN: up to 10 s
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || { echo "link_download: no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
    sleep 0.1
  done
}
"$bin/ferry-link" --print-ready --seed 1 --link "$spec" > "$dir/link.out" 2>&1 &
link=$!
wait_line "$dir/link.out" "^ready"
na=$(sed -n 's/.*a=\([^ ]*\).*/\1/p' "$dir/link.out" | head -n 1)
nb=$(sed -n 's/.*b=\([^ ]*\).*/\1/p' "$dir/link.out" | head -n 1)
ip netns exec "$na" "$bin/ferry-chatd" --listen 198.18.0.1:0 --data "$dir/chat" \
  --secret-file "$dir/secret" --kdf-iterations 1000 > "$dir/chatd.log" 2>&1 &
pids="$!"
wait_line "$dir/chatd.log" "listening on"
chat=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$dir/chatd.log" | head -n 1)
ip netns exec "$na" "$bin/ferry-resd" --listen 198.18.0.1:0 --http 198.18.0.1:0 \
  --data "$dir/res" --secret-file "$dir/secret" --chat "$chat" > "$dir/resd.log" 2>&1 &
pids="$! $pids"
pids="$pids $link"  # ferry-link last: it deletes the namespaces
wait_line "$dir/resd.log" "authenticated"
cli() { ip netns exec "$nb" "$bin/ferry" --server "$chat" "$@"; }
cli --state "$dir/bob" register bob bob-password > /dev/null
cli --state "$dir/alice" register alice alice-password > /dev/null
id=$(cli --state "$dir/alice" send-file bob "$file" --json |
  sed -n 's/.*"message_id":\([0-9]*\).*"status":"READY".*/\1/p' | tail -n 1)
[ -n "$id" ] || { echo "link_download: the upload did not become READY" >&2; exit 1; }
want=$(sha256sum < "$file" | cut -c1-64)
echo "link: $spec; file: $file; message $id"
r=1
while [ $r -le "$runs" ]; do
  for s in $segs; do
    rm -f "$dir/out.bin"
    t0=$(date +%s.%N)
    ip netns exec "$nb" env FERRY_DOWNLOAD_SEGMENTS="$s" "$bin/ferry" --server "$chat" \
      --state "$dir/bob" download "$id" --out "$dir/out.bin" > "$dir/download.log" 2>&1 ||
      { cat "$dir/download.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    got=$(sha256sum < "$dir/out.bin" | cut -c1-64)
    [ "$got" = "$want" ] || { echo "link_download: hash mismatch" >&2; exit 1; }
    echo "segments=$s seconds=$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")" |
      tee -a "$dir/results"
  done
  r=$((r + 1))
done
python3 - "$dir/results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, v = line.split()
    runs[k].append(float(v.split('=')[1]))
for k, v in runs.items():
    print(f"{k}: median {statistics.median(v):.2f} s, mean {statistics.mean(v):.2f} s, "
          f"{len(v)} runs: " + " ".join(f"{x:.2f}" for x in sorted(v)))
PY
