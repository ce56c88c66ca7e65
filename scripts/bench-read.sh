#!/usr/bin/env bash
# Benchmarks "wstap read" against tshark on one large synthetic capture.
#
# It builds wstap and the capture generator, writes a capture of at least
# 300 MB and a million packets (many WebSocket connections, a third of them
# compressed) into a temporary directory, then times, on that same file:
#
#   wstap read --json /dev/null FILE
#   tshark -r FILE -Y websocket -T fields -e websocket.payload_length
#
# with GNU time (elapsed seconds and peak RSS), and checks that wstap finds
# every frame tshark finds, connection by connection. Nothing is kept.
#
# Usage: scripts/bench-read.sh [BYTES [PACKETS]]
# Needs: go, tshark, GNU time at /usr/bin/time (Debian: apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."

bytes=${1:-320000000}
packets=${2:-1000000}
runs=${RUNS:-3}

for tool in tshark /usr/bin/time; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench-read: $tool is required" >&2
		exit 1
	fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/wstap" .
go build -o "$work/gencap" ./capture/internal/gencap
file="$work/bench.pcap"
gen=$("$work/gencap" -o "$file" -bytes "$bytes" -packets "$packets")
echo "$gen"
size=$(stat -c %s "$file")
npackets=$(echo "$gen" | sed -n 's/.*: \([0-9]*\) packets.*/\1/p')
nconns=$(echo "$gen" | sed -n 's/.* \([0-9]*\) connections.*/\1/p')

# Read the file once so that both tools find it in the page cache.
cat "$file" >/dev/null

# measure NAME CMD...: runs CMD under GNU time and prints
# "elapsed_seconds peak_rss_kib" on stdout; CMD's stdout goes to $work/NAME.out.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >"$work/$name.out"
	cat "$work/$name.time"
}

best=""
best_rss=0
for i in $(seq "$runs"); do
	read -r secs rss < <(measure wstap "$work/wstap" read --json /dev/null "$file")
	echo "wstap run $i: ${secs} s, peak RSS $((rss / 1024)) MiB"
	if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
		best=$secs
	fi
	if [ "$rss" -gt "$best_rss" ]; then best_rss=$rss; fi
done

read -r tsecs trss < <(measure tshark tshark -r "$file" -Y websocket -T fields -e websocket.payload_length)
echo "tshark: ${tsecs} s, peak RSS $((trss / 1024)) MiB"

# Frames per connection, as a sorted list of counts: tshark prints one line
# per packet with the frames' lengths separated by commas.
tshark -r "$file" -Y websocket -T fields -e tcp.stream -e websocket.payload_length 2>/dev/null |
	awk -F'\t' '{ n[$1] += split($2, a, ",") } END { for (s in n) print n[s] }' | sort -n >"$work/tshark.counts"
"$work/wstap" read --ndjson - "$file" | grep '"event": "closed"' |
	sed -n 's/.*"frame_count": \([0-9]*\).*/\1/p' | grep -v '^0$' | sort -n >"$work/wstap.counts"
tframes=$(awk '{ s += $1 } END { print s + 0 }' "$work/tshark.counts")
wframes=$(awk '{ s += $1 } END { print s + 0 }' "$work/wstap.counts")
if cmp -s "$work/tshark.counts" "$work/wstap.counts"; then
	same="yes"
else
	same="NO"
fi

mbps() { awk -v b="$size" -v s="$1" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
ratio=$(awk -v a="$tsecs" -v b="$best" 'BEGIN { printf "%.1f", a / b }')
cat <<EOF

| | wstap read --json /dev/null | tshark -Y websocket |
|---|---|---|
| capture | $((size / 1000000)) MB, $npackets packets, $nconns connections | the same file |
| time (best of $runs for wstap) | ${best} s ($(mbps "$best") MB/s) | ${tsecs} s ($(mbps "$tsecs") MB/s) |
| peak RSS | $((best_rss / 1024)) MiB | $((trss / 1024)) MiB |
| frames found | $wframes in $(wc -l <"$work/wstap.counts") connections | $tframes in $(wc -l <"$work/tshark.counts") connections |

wstap is ${ratio} times faster than tshark; same frames per connection: ${same}.
EOF
[ "$same" = "yes" ]
