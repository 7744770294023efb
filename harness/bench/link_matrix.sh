#!/bin/sh
# The issue 7 §3 table: `ferry-bench upload --link` over delay × loss, one ferry-link per cell,
# cells one after the other. Prints one JSON line per cell (also to OUT.jsonl, stderr to
# OUT.log) and then a markdown table for docs/benchmarks.md. Needs root (ferry-link).
#
#   harness/bench/link_matrix.sh BIN_DIR [OUT] [ferry-bench upload options...]
#   harness/bench/link_matrix.sh build/bin /tmp/matrix --size 64M --runs 3
#   DELAYS="5 20 50" LOSSES="0 0.5 1 3" harness/bench/link_matrix.sh build/bin /tmp/m --cc reno
#   TABLE_ONLY=1 harness/bench/link_matrix.sh build/bin /tmp/matrix   # the table again
set -eu
bin=${1:?usage: link_matrix.sh BIN_DIR [OUT] [ferry-bench upload options...]}
out=${2:-/tmp/ferry-link-matrix}
shift $(( $# >= 2 ? 2 : 1 ))
delays=${DELAYS:-5 20 50}
losses=${LOSSES:-0 0.5 1 3}
if [ -z "${TABLE_ONLY:-}" ]; then
  : > "$out.jsonl"
  for d in $delays; do
    for l in $losses; do
      spec="delay ${d}ms"
      [ "$l" = 0 ] || spec="$spec loss ${l}%"
      if ! "$bin/ferry-bench" upload --link "$spec" --json "$@" >> "$out.jsonl" 2>> "$out.log"; then
        echo "{\"link\":\"$spec\",\"failed\":true}" >> "$out.jsonl"
      fi
      tail -n 1 "$out.jsonl"
    done
  done
fi
python3 - "$out.jsonl" <<'PY'
import json, sys
rows = []
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    try:
        rows.append(json.loads(l))
    except ValueError:
        pass
ok = [r for r in rows if not r.get('failed')]
if ok:
    r0 = ok[0]
    print(f"\n{r0['size_bytes']/1048576:.0f} MiB, {r0['runs']} run(s) per cell, TCP {r0.get('tcp_cc','?')}, "
          f"seed {r0['seed']}; {r0['tus_setting']}\n")
print("| link | ferry MB/s | (CLI's own) | tus MB/s | ferry / tus | loss seen B→A |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    if r.get('failed'):
        print(f"| `{r['link']}` | failed | | | | |")
        continue
    ba = r.get('link_report', {}).get('b_to_a', {})
    drops = sum(ba.get('dropped', {}).values())
    pct = 100.0 * drops / ba['packets_in'] if ba.get('packets_in') else 0
    print(f"| `{r['link']}` | {r['ferry_mb_s']:.2f} | {r.get('ferry_cli_mb_s', 0):.2f} | "
          f"{r['tus_mb_s']:.2f} | **{r['ratio_tus']:.2f}** | {pct:.2f}% |")
PY
