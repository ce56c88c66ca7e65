#!/usr/bin/env bash
# Benchmarks "wstap read" against tshark on large synthetic captures.
#
# It builds wstap and the capture generator (capture/internal/gencap) and,
# for each capture shape asked for, writes the capture into a temporary
# directory and measures on that same file:
#
#   wstap read --json /dev/null FILE          (best of RUNS, each output)
#   wstap read --har /dev/null FILE
#   wstap read --ndjson /dev/null FILE
#   wstap read --dump FILE >/dev/null
#   tshark -r FILE -Y websocket -T fields -e websocket.payload_length   (once)
#
# with GNU time (elapsed seconds and peak RSS), prints tshark's time over
# wstap's for --json, and checks that wstap finds every frame tshark finds,
# connection by connection. Nothing is kept.
#
# The shapes (see capture/internal/gencap):
#   short  many short connections, 200 open at a time: at least BYTES bytes
#          and PACKETS packets (default 320 MB and 1 M packets);
#   long   CONNS connections (default 20) open from the start to the end of
#          the file, a quarter of their messages compressed: FRAMES frames
#          (default 2,000,000, about 325 MB).
#
# --3x also writes each shape's capture three times as large and measures
# the four wstap outputs on it (not tshark), and prints the peak RSS of
# both sizes side by side: it should not grow with the file.
#
# Usage: scripts/bench-read.sh [--shape short|long|both] [--3x] [--runs N]
#                              [--bytes N] [--packets N] [--frames N]
#                              [--conns N] [BYTES [PACKETS]]
#   scripts/bench-read.sh                        # both shapes, default sizes
#   scripts/bench-read.sh --shape long --3x      # long: 325 MB, then 975 MB
#   scripts/bench-read.sh --bytes 3000000 --packets 10000 --frames 20000
#                                                # a quick check of the script
# The environment can set the same: SHAPE, RUNS, X3=1, BYTES, PACKETS,
# FRAMES, CONNS; WSTAP=path uses that wstap binary instead of building one
# from this checkout; TMPDIR is where the captures go.
#
# Needs: go, tshark, GNU time at /usr/bin/time (Debian: apt-get install
# time), and free space in TMPDIR for the largest capture (about 1 GB with
# --3x): each capture is deleted before the next is written.
set -euo pipefail
cd "$(dirname "$0")/.."
# Plain byte order for sort and join, a decimal point for awk and tshark.
export LC_ALL=C

usage() {
	sed -n 's/^# \{0,1\}//; /^Usage:/,/^Needs:/p' "$0" | sed '$d' >&2
	exit 2
}

shape=${SHAPE:-both}
runs=${RUNS:-3}
x3=${X3:-0}
bytes=${BYTES:-320000000}
packets=${PACKETS:-1000000}
frames=${FRAMES:-2000000}
conns=${CONNS:-20}
positional=0
while [ $# -gt 0 ]; do
	case $1 in
	--shape) shape=${2:?}; shift ;;
	--shape=*) shape=${1#*=} ;;
	--3x) x3=1 ;;
	--runs) runs=${2:?}; shift ;;
	--runs=*) runs=${1#*=} ;;
	--bytes) bytes=${2:?}; shift ;;
	--bytes=*) bytes=${1#*=} ;;
	--packets) packets=${2:?}; shift ;;
	--packets=*) packets=${1#*=} ;;
	--frames) frames=${2:?}; shift ;;
	--frames=*) frames=${1#*=} ;;
	--conns) conns=${2:?}; shift ;;
	--conns=*) conns=${1#*=} ;;
	-h | --help) usage ;;
	[0-9]*)
		# The old command line: BYTES [PACKETS], for the short shape.
		case $positional in
		0) bytes=$1 ;;
		1) packets=$1 ;;
		*) usage ;;
		esac
		positional=$((positional + 1))
		;;
	*) usage ;;
	esac
	shift
done
case $shape in
both) shapes="short long" ;;
short | long) shapes=$shape ;;
*) usage ;;
esac
for n in "$runs" "$bytes" "$packets" "$frames" "$conns"; do
	case $n in
	'' | *[!0-9]*) echo "bench-read: not a number: $n" >&2; exit 2 ;;
	esac
done
[ "$runs" -ge 1 ] || usage

# Tools first, so that nothing big is written before a missing one stops
# the run.
for tool in go tshark awk sed sort join df stat; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench-read: $tool is required" >&2
		exit 1
	fi
done
if ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
	echo "bench-read: GNU time is required at /usr/bin/time (Debian: apt-get install time)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-read.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Disk space: the largest capture at a time, with a tenth to spare. The
# sizes are the generator's: the short shape writes what it is asked for,
# the long one about 165 bytes a frame.
need=0
for s in $shapes; do
	case $s in
	short) est=$((bytes > packets * 250 ? bytes : packets * 250)) ;;
	long) est=$((frames * 165 > bytes ? frames * 165 : bytes)) ;;
	esac
	if [ "$x3" = 1 ]; then est=$((est * 3)); fi
	if [ "$est" -gt "$need" ]; then need=$est; fi
done
need=$((need / 10 * 11))
avail=$(($(df -Pk "$work" | awk 'NR == 2 { print $4 }') * 1024))
if [ "$avail" -lt "$need" ]; then
	echo "bench-read: $((need / 1000000)) MB needed in $work, $((avail / 1000000)) MB free (set TMPDIR elsewhere)" >&2
	exit 1
fi

if [ -n "${WSTAP:-}" ]; then
	wstap=$WSTAP
else
	wstap=$work/wstap
	go build -o "$wstap" .
fi
go build -o "$work/gencap" ./capture/internal/gencap
echo "wstap: $("$wstap" version 2>/dev/null | head -n 1 || true); $(tshark --version 2>/dev/null | head -n 1); $(nproc) CPUs"

# measure NAME CMD...: runs CMD under GNU time, its stdout to /dev/null and
# its stderr to $work/NAME.err, and leaves "elapsed_seconds peak_rss_kib"
# in $work/NAME.time (GNU time's last line: before it, it may say that the
# command failed). A failing command stops the script with its stderr.
measure() {
	local name=$1
	shift
	if ! /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err"; then
		echo "bench-read: failed: $*" >&2
		tail -n 20 "$work/$name.err" >&2
		exit 1
	fi
	tail -n 1 "$work/$name.time" >"$work/$name.time.last"
	mv "$work/$name.time.last" "$work/$name.time"
}

# best NAME CMD...: runs CMD $runs times and sets $best_secs (the fastest),
# $runs_secs (all, in order), $rss_max and $rss_min (peak RSS in KiB).
best() {
	local name=$1 i secs rss
	shift
	best_secs="" runs_secs="" rss_max=0 rss_min=""
	for i in $(seq "$runs"); do
		measure "$name" "$@"
		read -r secs rss <"$work/$name.time"
		runs_secs="$runs_secs $secs"
		if [ -z "$best_secs" ] || awk -v a="$secs" -v b="$best_secs" 'BEGIN { exit !(a < b) }'; then
			best_secs=$secs
		fi
		if [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
		if [ -z "$rss_min" ] || [ "$rss" -lt "$rss_min" ]; then rss_min=$rss; fi
	done
	runs_secs=${runs_secs# }
}

mib() { echo $(($1 / 1024)); }
mbps() { awk -v b="$2" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "-" }'; }
# rss_range MIN MAX: "110" or "108-110" MiB.
rss_range() {
	if [ "$(mib "$1")" = "$(mib "$2")" ]; then mib "$2"; else echo "$(mib "$1")-$(mib "$2")"; fi
}

outputs="json har ndjson dump"
label() {
	case $1 in
	dump) echo "wstap read --dump FILE >/dev/null" ;;
	*) echo "wstap read --$1 /dev/null FILE" ;;
	esac
}

# generate SHAPE FILE SCALE: writes the capture, prints the generator's
# line and sets $size, $npackets, $nconns, $nframes.
generate() {
	local s=$1 file=$2 k=$3 gen
	case $s in
	short) gen=$("$work/gencap" -o "$file" -bytes $((bytes * k)) -packets $((packets * k))) ;;
	long) gen=$("$work/gencap" -o "$file" -shape long -conns "$conns" -frames $((frames * k))) ;;
	esac
	echo "$gen"
	size=$(stat -c %s "$file")
	npackets=$(echo "$gen" | sed -n 's/.*: \([0-9]*\) packets.*/\1/p')
	nconns=$(echo "$gen" | sed -n 's/.* \([0-9]*\) connections.*/\1/p')
	nframes=$(echo "$gen" | sed -n 's/.* \([0-9]*\) frames.*/\1/p')
	# Read the file once so that every run finds it in the page cache.
	cat "$file" >/dev/null
}

# measure_wstap TAG FILE: best of $runs for each output; sets
# secs_TAG_OUTPUT, runs_TAG_OUTPUT, rss_TAG_OUTPUT (range) and
# rssmax_TAG_OUTPUT.
measure_wstap() {
	local tag=$1 file=$2 o
	for o in $outputs; do
		case $o in
		dump) best wstap-dump "$wstap" read --dump "$file" ;;
		*) best "wstap-$o" "$wstap" read "--$o" /dev/null "$file" ;;
		esac
		echo "  $(label "$o"): runs $runs_secs s, peak RSS $(rss_range "$rss_min" "$rss_max") MiB"
		printf -v "secs_${tag}_$o" %s "$best_secs"
		printf -v "runs_${tag}_$o" %s "$runs_secs"
		printf -v "rss_${tag}_$o" %s "$(rss_range "$rss_min" "$rss_max")"
		printf -v "rssmax_${tag}_$o" %s "$rss_max"
	done
	echo "  wstap says: $(tail -n 1 "$work/wstap-json.err")"
}

# check FILE: frames per connection, keyed by the connection's two
# endpoints (address:port, in sorted order), from tshark (one line per
# packet: the frames' lengths separated by commas) and from wstap's NDJSON
# events ("opened" has the endpoints, "closed" the frame count). Sets
# $tframes, $tconns, $wframes, $wconns and $same (yes or NO).
check() {
	local file=$1
	tshark -r "$file" -Y websocket -T fields -E separator=/t \
		-e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport -e websocket.payload_length 2>/dev/null |
		awk -F'\t' '{
			a = $1 ":" $2; b = $3 ":" $4
			k = (a < b) ? a " " b : b " " a
			n[k] += split($5, f, ",")
		}
		END { for (k in n) print k "\t" n[k] }' | sort >"$work/tshark.counts"
	if ! "$wstap" read --ndjson - "$file" 2>"$work/ndjson.err" |
		awk '
		function str(name,   m) {
			if (!match($0, "\"" name "\": *\"[^\"]*\"")) return ""
			m = substr($0, RSTART, RLENGTH)
			sub(/^[^:]*: *"/, "", m)
			sub(/"$/, "", m)
			return m
		}
		function num(name,   m) {
			if (!match($0, "\"" name "\": *[0-9]+")) return 0
			m = substr($0, RSTART, RLENGTH)
			sub(/^[^:]*: */, "", m)
			return m + 0
		}
		/"event": *"opened"/ {
			a = str("client"); b = str("server")
			key[str("conn")] = (a < b) ? a " " b : b " " a
		}
		/"event": *"closed"/ {
			f = num("frame_count")
			if (f > 0) n[key[str("conn")]] += f
		}
		END { for (k in n) print k "\t" n[k] }' | sort >"$work/wstap.counts"; then
		echo "bench-read: failed: $wstap read --ndjson - $file" >&2
		tail -n 20 "$work/ndjson.err" >&2
		exit 1
	fi
	tframes=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$work/tshark.counts")
	wframes=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$work/wstap.counts")
	tconns=$(wc -l <"$work/tshark.counts")
	wconns=$(wc -l <"$work/wstap.counts")
	# Every connection tshark has must be in wstap's list with the same
	# count; wstap may see more (a connection whose frames tshark misses).
	local missing
	missing=$(join -t "$(printf '\t')" -a 1 -e none -o 0,1.2,2.2 "$work/tshark.counts" "$work/wstap.counts" |
		awk -F'\t' '$2 != $3' | tee "$work/check.diff" | wc -l)
	if [ "$tframes" -gt 0 ] && [ "$missing" -eq 0 ]; then
		same=yes
	else
		same=NO
		echo "  connections where wstap's count differs (endpoints, tshark, wstap):" >&2
		head -n 10 "$work/check.diff" >&2
	fi
}

status=0
for s in $shapes; do
	file=$work/$s.pcap
	echo
	echo "== $s"
	generate "$s" "$file" 1
	size1=$size
	measure_wstap x1 "$file"
	measure tshark tshark -r "$file" -Y websocket -T fields -e websocket.payload_length
	read -r tsecs trss <"$work/tshark.time"
	echo "  tshark -Y websocket: ${tsecs} s, peak RSS $(mib "$trss") MiB"
	check "$file"
	if [ "$same" != yes ]; then status=1; fi
	ratio=$(awk -v a="$tsecs" -v b="$secs_x1_json" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')

	cat <<EOF

$s: $((size / 1000000)) MB, $npackets packets, $nconns connections, $nframes frames

| | best of $runs | throughput | runs | peak RSS |
|---|---|---|---|---|
EOF
	for o in $outputs; do
		v=secs_x1_$o r=runs_x1_$o m=rss_x1_$o
		echo "| $(label "$o") | ${!v} s | $(mbps "${!v}" "$size") MB/s | ${!r} s | ${!m} MiB |"
	done
	cat <<EOF
| tshark -r FILE -Y websocket -T fields -e websocket.payload_length | ${tsecs} s (1 run) | $(mbps "$tsecs" "$size") MB/s | | $(mib "$trss") MiB |

tshark / wstap --json: ${ratio} times.
Frames found: wstap $wframes in $wconns connections, tshark $tframes in $tconns connections; every frame tshark finds also found by wstap, per connection: ${same}.
EOF

	if [ "$x3" = 1 ]; then
		# The same shape three times as large, for wstap only: the peak RSS
		# of both sizes side by side.
		rm -f "$file"
		echo
		echo "== $s, 3x"
		generate "$s" "$file" 3
		measure_wstap x3 "$file"
		rm -f "$file"
		cat <<EOF

$s: $((size1 / 1000000)) MB against $((size / 1000000)) MB ($npackets packets, $nframes frames)

| | 1x: best of $runs | 1x: peak RSS | 3x: best of $runs | 3x: peak RSS | RSS 3x / 1x |
|---|---|---|---|---|---|
EOF
		for o in $outputs; do
			a=secs_x1_$o b=rss_x1_$o c=secs_x3_$o d=rss_x3_$o ma=rssmax_x1_$o mb=rssmax_x3_$o
			echo "| $(label "$o") | ${!a} s | ${!b} MiB | ${!c} s | ${!d} MiB | $(awk -v a="${!ma}" -v b="${!mb}" 'BEGIN { printf "%.2f", b / a }') |"
		done
	fi
	rm -f "$file"
done
exit "$status"
