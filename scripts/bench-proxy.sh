#!/usr/bin/env bash
# Benchmarks "wstap proxy" against a plain relay (and mitmproxy, when
# mitmdump is installed) on loopback, with the same peers for every path:
# the echo server and the load client of scripts/proxypeer
# (gorilla/websocket, no compression; every echo is checked byte for
# byte, so a path that loses or alters a message fails the run).
#
# ws (wstap in reverse mode):
#   direct          client -> server
#   relay           client -> proxypeer relay (io.Copy) -> server
#   copying relay   client -> proxypeer relay -copy (read(2)/write(2) through
#                   user space, 256 KiB at a time, nothing else) -> server:
#                   the least any proxy that looks at the bytes pays
#   mitmdump        client -> mitmdump --mode reverse:http://SERVER -> server
#   wstap           client -> wstap proxy --upstream ws://SERVER --json /dev/null -> server
#   wstap --json    the same with --json FILE, and FILE checked afterwards
# wss (TLS from the client to the server, intercepted in between):
#   direct          client -> TLS server
#   tlsrelay        client -> proxypeer tlsrelay (TLS in, TLS out) -> TLS server
#   mitmdump        client -> CONNECT through mitmdump, TLS intercepted with its CA
#   wstap           client -> CONNECT through wstap proxy (forward mode), TLS
#                   intercepted with wstap's CA (a temporary WSTAP_CONFIG_DIR
#                   that the client trusts); wstap trusts the server's CA
#                   with --upstream-ca
#   wstap --json    the same with --json FILE, and FILE checked afterwards
# Shapes, on each path:
#   throughput      COUNT binary messages of SIZE bytes (2000 x 64 KiB) echoed
#                   with INFLIGHT (32) sent and not yet answered, on one
#                   connection: payload MB/s (10^6 bytes) one way
#   round trips     RTT (2000) 16-byte messages one at a time, after 50 not
#                   counted: p50/p90/p99 in microseconds
# memory (wstap with --json FILE, in reverse mode):
#   one connection  MEM_MSGS (300,000) echoed 1 KiB messages, 32 in flight
#   many            MEM_CONNS (500) connections open at once, each echoing
#                   MEM_CONN_MSGS (200) 1 KiB messages, 4 in flight
#   in turn         MEM_ROUNDS (60) rounds of MEM_CONNS connections, each
#                   echoing 2 messages: a proxy left running sees
#                   connections come and go
# and, for each, the disk the spill file holds once the proxy exported
# every connection and settled (connections let go give their blocks back).
#
# Before each shape the script waits until the proxy is idle (at most 2
# clock ticks of CPU in 0.2 s): wstap writes a connection's JSON from its
# store after the connection closed, even to /dev/null, and on 2 cores that
# work would be measured as round-trip time of the next shape. The
# progress lines say how long the waits took in all.
#
# Every proxy runs under GNU time for its peak RSS, over all its runs. A
# JSON check counts the export with "proxypeer jsoncount" (a streaming
# reader, no jq): it must hold every connection, every message in both
# directions with its size, the two closes of each connection, and no
# problem; otherwise the row says NO. A path whose client fails (an echo
# that differs, a connection that breaks) or whose proxy dies is marked
# FAILED with what they said, and the other paths are still measured.
# Either makes the script exit 1 after the tables, which are printed in
# markdown, ready for BENCHMARKS.md.
#
# Usage: scripts/bench-proxy.sh [--quick] [--runs N] [--part ws|wss|memory|all]
#   scripts/bench-proxy.sh                  # everything, best and median of 3 runs
#   scripts/bench-proxy.sh --quick          # small counts, 1 run: a check of the script
#   scripts/bench-proxy.sh --part memory    # the memory runs only
# The environment can set COUNT, SIZE, INFLIGHT, RTT, MEM_MSGS, MEM_CONNS,
# MEM_CONN_MSGS, MEM_ROUNDS and RUNS; WSTAP=path uses that wstap binary instead of
# building one from this checkout; TMPDIR is where the temporary files go
# (about 1.5 GB for the memory runs: a JSON export and wstap's spill file).
#
# Needs: go, GNU time at /usr/bin/time (Debian: apt-get install time);
# mitmdump is optional (Debian: apt-get install mitmproxy).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

usage() {
	sed -n 's/^# \{0,1\}//; /^Usage:/,/^Needs:/p' "$0" | sed '$d' >&2
	exit 2
}

quick=0
part=all
runs=${RUNS:-}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--runs) runs=${2:?}; shift ;;
	--runs=*) runs=${1#*=} ;;
	--part) part=${2:?}; shift ;;
	--part=*) part=${1#*=} ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done
if [ "$quick" = 1 ]; then
	count=${COUNT:-200} rtt=${RTT:-200} mem_msgs=${MEM_MSGS:-5000}
	mem_conns=${MEM_CONNS:-50} mem_conn_msgs=${MEM_CONN_MSGS:-20} mem_rounds=${MEM_ROUNDS:-4} runs=${runs:-1}
else
	count=${COUNT:-2000} rtt=${RTT:-2000} mem_msgs=${MEM_MSGS:-300000}
	mem_conns=${MEM_CONNS:-500} mem_conn_msgs=${MEM_CONN_MSGS:-200} mem_rounds=${MEM_ROUNDS:-60} runs=${runs:-3}
fi
size=${SIZE:-65536}
inflight=${INFLIGHT:-32}
for n in "$runs" "$count" "$rtt" "$mem_msgs" "$mem_conns" "$mem_conn_msgs" "$mem_rounds" "$size" "$inflight"; do
	case $n in
	'' | *[!0-9]* | 0) echo "bench-proxy: not a positive number: $n" >&2; exit 2 ;;
	esac
done
case $part in
all) parts="ws wss memory" ;;
ws | wss | memory) parts=$part ;;
*) usage ;;
esac

for tool in go awk sed sort; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench-proxy: $tool is required" >&2
		exit 1
	fi
done
if ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
	echo "bench-proxy: GNU time is required at /usr/bin/time (Debian: apt-get install time)" >&2
	exit 1
fi
mitm=0
if command -v mitmdump >/dev/null; then mitm=1; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-proxy.XXXXXX")
# pids: every background process started, and the programs GNU time runs
# (time passes no signal on), all ended on exit.
pids=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${WSTAP:-}" ]; then
	wstap=$WSTAP
else
	wstap=$work/wstap
	go build -o "$wstap" .
fi
pp=$work/proxypeer
go build -o "$pp" ./scripts/proxypeer
# wstap's CA and its spill files stay in the work directory.
export WSTAP_CONFIG_DIR=$work/wstap-config
mkdir -m 700 "$work/wstap-config" "$work/tmp"

echo "wstap: $("$wstap" version 2>/dev/null | head -n 1 || true); $(go version | cut -d' ' -f3-); $(nproc) CPUs"
if [ "$mitm" = 1 ]; then
	echo "mitmdump: $(mitmdump --version 2>/dev/null | head -n 1)"
else
	echo "mitmdump: not installed, its rows are skipped (Debian: apt-get install mitmproxy)"
fi
echo "runs: $runs; throughput: $count x $size bytes, $inflight in flight; round trips: $rtt"

# spawn NAME CMD...: starts CMD in the background, stdout and stderr to
# $work/NAME.out and $work/NAME.err.
spawn() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.err" &
	pids+=($!)
}

# forget PID...: takes processes that have been waited for off the list,
# so that the cleanup never signals a number the system gave to another.
forget() {
	local p q keep=()
	for p in "${pids[@]}"; do
		for q in "$@"; do
			if [ "$p" = "$q" ]; then continue 2; fi
		done
		keep+=("$p")
	done
	pids=("${keep[@]}")
}

# launch NAME CMD...: starts CMD in the background under GNU time, whose
# last line in $work/NAME.rss will be the peak RSS in KiB. Sets
# $launched_time (time's pid, to wait for) and $launched_pid (CMD's, to
# signal).
launch() {
	local name=$1
	shift
	rm -f "$work/$name.pid"
	# shellcheck disable=SC2016 # $$ and "$@" are the inner shell's
	/usr/bin/time -f %M -o "$work/$name.rss" \
		sh -c 'echo $$ >"$0"; exec "$@"' "$work/$name.pid" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	launched_time=$!
	pids+=("$launched_time")
	for _ in $(seq 300); do
		if [ -s "$work/$name.pid" ]; then break; fi
		sleep 0.01
	done
	launched_pid=$(cat "$work/$name.pid")
	pids+=("$launched_pid")
}

# await FILE SED: waits up to 30 s for the sed expression (s/.../\1/p) to
# find what a program printed in FILE, and prints it.
await() {
	local file=$1 expr=$2 v
	for _ in $(seq 300); do
		v=$(sed -n "$expr" "$file" 2>/dev/null | head -n 1)
		if [ -n "$v" ]; then
			echo "$v"
			return
		fi
		sleep 0.1
	done
	echo "bench-proxy: nothing in $file after 30 s:" >&2
	cat "$file" >&2
	exit 1
}

# peer NAME ARGS...: starts a proxypeer listener and sets $addr.
peer() {
	local name=$1
	shift
	spawn "$name" "$pp" "$@"
	addr=$(await "$work/$name.out" 's/^listening on //p')
}

# stop NAME: ends what launch started with SIGTERM, waits for it, and sets
# $rss (KiB), $stop_secs (from the signal to the exit: wstap writes its
# JSON then), $stop_status (its exit status; a proxy that had died
# already has its own) and $stop_panic (the first line of a Go panic on
# its stderr, if any).
stop() {
	local name=$1 t0 t1
	t0=$(date +%s.%N)
	kill -TERM "$launched_pid" 2>/dev/null || true
	stop_status=0
	wait "$launched_time" || stop_status=$?
	t1=$(date +%s.%N)
	forget "$launched_time" "$launched_pid"
	stop_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	stop_panic=$(grep -m 1 -E '^(panic|fatal error):' "$work/$name.err" || true)
	rss=$(tail -n 1 "$work/$name.rss")
	case $rss in
	'' | *[!0-9]*)
		echo "bench-proxy: no peak RSS for $name:" >&2
		cat "$work/$name.rss" "$work/$name.err" >&2
		exit 1
		;;
	esac
}

# client ARGS...: runs the load client and adds what it sent to
# $sent_msgs, $sent_bytes and $sent_conns. A failure (an echo that
# differs, a connection that breaks) returns 1 with the client's last
# word in $client_error, so that one broken path does not stop the
# others from being measured.
client() {
	local m b c
	if ! "$pp" client "$@" >"$work/client.out" 2>"$work/client.err"; then
		client_error=$(tail -n 1 "$work/client.err")
		client_error=${client_error#proxypeer client: }
		return 1
	fi
	if ! read -r m b c < <(sed -n 's/^sent messages=\([0-9]*\) bytes=\([0-9]*\) conns=\([0-9]*\)$/\1 \2 \3/p' "$work/client.out"); then
		echo "bench-proxy: proxypeer client said nothing of what it sent:" >&2
		cat "$work/client.out" >&2
		exit 1
	fi
	sent_msgs=$((sent_msgs + m)) sent_bytes=$((sent_bytes + b)) sent_conns=$((sent_conns + c))
}

# jsoncheck FILE: compares the export's counts with what the clients sent
# through the proxy and sets $check to "yes" or "NO: ...".
jsoncheck() {
	local file=$1 got want
	if [ ! -e "$file" ]; then
		check="NO: not written"
		status=1
		return
	fi
	if ! got=$("$pp" jsoncount "$file" 2>"$work/jsoncount.err"); then
		check="NO: $(tail -n 1 "$work/jsoncount.err")"
		status=1
		return
	fi
	want="connections=$sent_conns client_messages=$sent_msgs server_messages=$sent_msgs client_bytes=$sent_bytes server_bytes=$sent_bytes control=$((2 * sent_conns)) problems=0"
	if [ "$got" = "$want" ]; then
		check=yes
		return
	fi
	check="NO: found $got; sent $want"
	status=1
	{
		echo "  JSON check failed: the export holds"
		echo "    $got"
		echo "  and the clients sent"
		echo "    $want"
		sed 's/^/    /' "$work/jsoncount.err"
	} >&2
}

# failure KEY WHAT: records that KEY's path failed, and what was said.
failure() {
	failed[$1]=${failed[$1]:+${failed[$1]}; }$2
	status=1
	echo "  $1: FAILED: $2" >&2
}

# median FORMAT and best: the median (printf FORMAT) and the largest of the
# numbers on stdin.
median() { sort -n | awk -v f="$1" '{ v[NR] = $1 } END { printf f "\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best() { sort -n | tail -n 1; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# settle: waits until the proxy being measured ($proxy_pid, if any) has
# used no more than 2 clock ticks of CPU in 0.2 s, at most 60 s, and adds
# the wait to $settled. A proxy may go on working after a connection
# closed (wstap writes the connection's JSON from its store then): each
# shape must measure the relay, not that work beside it on 2 cores.
settle() {
	local a b t0
	if [ -z "${proxy_pid:-}" ]; then return; fi
	t0=$(date +%s.%N)
	b=$(ticks)
	for _ in $(seq 300); do
		sleep 0.2
		a=$b
		b=$(ticks)
		if [ $((b - a)) -le 2 ]; then break; fi
	done
	settled=$(awk -v s="$settled" -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", s + b - a - 0.2 }')
}

# ticks: the CPU time (user and system, clock ticks) of $proxy_pid so far;
# the fields after the command name in /proc/PID/stat, which may hold
# spaces.
ticks() { sed 's/.*) //' "/proc/$proxy_pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0; }

# measure KEY CLIENTARGS...: the throughput shape and the round trips,
# $runs times each, through what is running (the proxy $proxy_pid, or
# none), each after the proxy settled; sets tp_best[KEY], tp_med[KEY],
# p50[KEY], p90[KEY], p99[KEY] (medians of the runs), or failed[KEY].
declare -A tp_best tp_med p50 p90 p99 cpu rssk check_of failed
measure() {
	local key=$1
	shift
	settled=0
	local t0
	: >"$work/tp" && : >"$work/p50" && : >"$work/p90" && : >"$work/p99" && : >"$work/cpu"
	for _ in $(seq "$runs"); do
		settle
		t0=$(ticks)
		if ! client "$@" -size "$size" -count "$count" -inflight "$inflight"; then
			failure "$key" "$client_error"
			return
		fi
		sed -n 's/^throughput \([0-9.]*\) MB\/s.*/\1/p' "$work/client.out" >>"$work/tp"
		if [ -n "${proxy_pid:-}" ]; then
			# CPU seconds per GB relayed (both directions), from clock ticks.
			awk -v t="$(($(ticks) - t0))" -v hz="$(getconf CLK_TCK)" -v b="$((2 * count * size))" \
				'BEGIN { printf "%.2f\n", t / hz / (b / 1e9) }' >>"$work/cpu"
		fi
		settle
		if ! client "$@" -rtt "$rtt"; then
			failure "$key" "$client_error"
			return
		fi
		sed -n 's/^rtt p50 \([0-9]*\) us p90 \([0-9]*\) us p99 \([0-9]*\) us.*/\1 \2 \3/p' "$work/client.out" |
			while read -r a b c; do
				echo "$a" >>"$work/p50"
				echo "$b" >>"$work/p90"
				echo "$c" >>"$work/p99"
			done
	done
	tp_best[$key]=$(best <"$work/tp")
	tp_med[$key]=$(median %.1f <"$work/tp")
	p50[$key]=$(median %.0f <"$work/p50")
	p90[$key]=$(median %.0f <"$work/p90")
	p99[$key]=$(median %.0f <"$work/p99")
	cpu[$key]=-
	if [ -s "$work/cpu" ]; then cpu[$key]=$(median %.2f <"$work/cpu"); fi
	echo "  $key: throughput $(tr '\n' ' ' <"$work/tp")MB/s; p50 $(tr '\n' ' ' <"$work/p50")us, p99 $(tr '\n' ' ' <"$work/p99")us${proxy_pid:+; waited $settled s in all for the proxy to settle}"
}

# row KEY LABEL BASEKEY: a line of the table.
row() {
	local key=$1 label=$2 base=$3 pct=- delta=- r c
	r=${rssk[$key]:-}
	if [ -n "$r" ]; then r="$(mib "$r") MiB"; else r="-"; fi
	c=${check_of[$key]:--}
	if [ -n "${failed[$key]:-}" ]; then
		echo "| $label | FAILED: ${failed[$key]} | | | | | | | | $r | $c |"
		return
	fi
	if [ -n "${tp_best[$base]:-}" ]; then
		pct=$(awk -v a="${tp_best[$key]}" -v b="${tp_best[$base]}" 'BEGIN { printf "%.0f%%", 100 * a / b }')
		delta=$(awk -v a="${p50[$key]}" -v b="${p50[$base]}" 'BEGIN { printf "%+d", a - b }')
	fi
	echo "| $label | ${tp_best[$key]} | ${tp_med[$key]} | $pct | ${cpu[$key]:--} | ${p50[$key]} | ${p90[$key]} | ${p99[$key]} | $delta | $r | $c |"
}

table_head() {
	cat <<EOF

| $1 | MB/s, best of $runs | MB/s, median | % of $2 (best) | proxy CPU s/GB | p50 µs | p90 µs | p99 µs | p50 − $2 µs | proxy peak RSS | JSON holds every message |
|---|---|---|---|---|---|---|---|---|---|---|
EOF
}

# mitm_start KEY ARGS...: mitmdump on a free port; sets $addr.
mitm_start() {
	local key=$1 port
	shift
	port=$("$pp" freeport)
	launch "$key" mitmdump --listen-host 127.0.0.1 --listen-port "$port" -q --set confdir="$work/mitm" "$@"
	if ! "$pp" wait "127.0.0.1:$port" 2>/dev/null; then
		echo "bench-proxy: mitmdump did not listen on 127.0.0.1:$port:" >&2
		cat "$work/$key.err" "$work/$key.out" >&2
		exit 1
	fi
	addr=127.0.0.1:$port
}

# wstap_start KEY ARGS...: wstap proxy on a free port; sets $addr.
wstap_start() {
	local key=$1
	shift
	TMPDIR=$work/tmp launch "$key" "$wstap" proxy --listen 127.0.0.1:0 "$@"
	addr=$(await "$work/$key.err" 's|.*listening on ws://\([^,]*\),.*|\1|p; s|.*forward proxy on http://\([^ ]*\) .*|\1|p')
}

# through KEY ARGS...: measure through what was just started, stop it and
# keep its peak RSS (and check its JSON, when it was to write one to
# $work/KEY.json). A proxy that died on its own (or, for wstap, exited
# other than 0 after SIGTERM) fails the row with what it said.
through() {
	local key=$1
	shift
	sent_msgs=0 sent_bytes=0 sent_conns=0
	proxy_pid=$launched_pid
	measure "$key" "$@"
	proxy_pid=
	stop "$key"
	rssk[$key]=$rss
	if [ -n "$stop_panic" ]; then
		failure "$key" "the proxy: $stop_panic"
	else
		case $key in
		*-wstap*)
			if [ "$stop_status" != 0 ]; then
				failure "$key" "wstap exited with status $stop_status: $(tail -n 1 "$work/$key.err")"
			fi
			;;
		esac
	fi
	case $key in
	*-json)
		jsoncheck "$work/$key.json"
		check_of[$key]=$check
		rm -f "$work/$key.json"
		;;
	esac
}

declare -A mem_tp mem_rss mem_stop mem_msgs_of mem_conns_of mem_size mem_check mem_disk

# spill_disk: the disk (MiB) held by the spill file of $proxy_pid, which
# is unlinked and found among its descriptors.
spill_disk() {
	local fd
	for fd in /proc/"$proxy_pid"/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in
		*wstap-spill-*)
			stat -L -c '%b %B' "$fd" | awk '{ printf "%.1f MiB", $1 * $2 / 1048576 }'
			return
			;;
		esac
	done
	echo "?"
}
status=0
proxy_pid=
peer server server -listen 127.0.0.1:0
server=$addr
"$pp" gencert -dir "$work/certs"
certs=$work/certs

for p in $parts; do
	case $p in
	ws)
		echo
		echo "== ws: reverse mode, server $server"
		sent_msgs=0 sent_bytes=0 sent_conns=0
		measure ws-direct -url "ws://$server/"
		launch ws-relay "$pp" relay -listen 127.0.0.1:0 -to "$server"
		addr=$(await "$work/ws-relay.out" 's/^listening on //p')
		through ws-relay -url "ws://$addr/"
		launch ws-copyrelay "$pp" relay -copy -listen 127.0.0.1:0 -to "$server"
		addr=$(await "$work/ws-copyrelay.out" 's/^listening on //p')
		through ws-copyrelay -url "ws://$addr/"
		if [ "$mitm" = 1 ]; then
			mitm_start ws-mitm --mode "reverse:http://$server"
			through ws-mitm -url "ws://$addr/"
		fi
		wstap_start ws-wstap --upstream "ws://$server" --json /dev/null
		through ws-wstap -url "ws://$addr/"
		wstap_start ws-wstap-json --upstream "ws://$server" --json "$work/ws-wstap-json.json"
		through ws-wstap-json -url "ws://$addr/"
		;;
	wss)
		peer tlsserver server -listen 127.0.0.1:0 -tls-cert "$certs/leaf.pem" -tls-key "$certs/leaf.key"
		tlsserver=$addr
		echo
		echo "== wss: TLS server $tlsserver"
		sent_msgs=0 sent_bytes=0 sent_conns=0
		measure wss-direct -url "wss://$tlsserver/" -ca "$certs/ca.pem"
		launch wss-tlsrelay "$pp" tlsrelay -listen 127.0.0.1:0 -to "$tlsserver" \
			-cert "$certs/leaf.pem" -key "$certs/leaf.key" -upstream-ca "$certs/ca.pem"
		addr=$(await "$work/wss-tlsrelay.out" 's/^listening on //p')
		through wss-tlsrelay -url "wss://$addr/" -ca "$certs/ca.pem"
		if [ "$mitm" = 1 ]; then
			mitm_start wss-mitm --set ssl_verify_upstream_trusted_ca="$certs/ca.pem"
			through wss-mitm -url "wss://$tlsserver/" -proxy "http://$addr" -ca "$work/mitm/mitmproxy-ca-cert.pem"
		fi
		wstap_start wss-wstap --upstream-ca "$certs/ca.pem" --json /dev/null
		wstapca=$("$wstap" ca --path)
		through wss-wstap -url "wss://$tlsserver/" -proxy "http://$addr" -ca "$wstapca"
		wstap_start wss-wstap-json --upstream-ca "$certs/ca.pem" --json "$work/wss-wstap-json.json"
		through wss-wstap-json -url "wss://$tlsserver/" -proxy "http://$addr" -ca "$wstapca"
		;;
	memory)
		echo
		echo "== memory: wstap --json FILE, reverse mode, 1 KiB messages"
		for m in one many turn; do
			rounds=1
			case $m in
			one) margs=(-conns 1 -count "$mem_msgs" -inflight 32) ;;
			many) margs=(-conns "$mem_conns" -count "$mem_conn_msgs" -inflight 4) ;;
			turn) margs=(-conns "$mem_conns" -count 2 -inflight 1) rounds=$mem_rounds ;;
			esac
			key=mem-$m
			wstap_start "$key" --upstream "ws://$server" --json "$work/$key.json"
			sent_msgs=0 sent_bytes=0 sent_conns=0
			t0=$(date +%s.%N)
			mem_tp[$m]=
			for _ in $(seq "$rounds"); do
				if ! client -url "ws://$addr/" -size 1024 "${margs[@]}"; then
					mem_tp[$m]="FAILED: $client_error"
					status=1
					break
				fi
			done
			if [ -z "${mem_tp[$m]}" ] && [ "$rounds" = 1 ]; then
				mem_tp[$m]=$(sed -n 's/^throughput \([0-9.]*\) MB\/s: .* in \([0-9.]*\) s .*/\2 s, \1 MB\/s/p' "$work/client.out")
			elif [ -z "${mem_tp[$m]}" ]; then
				# The rounds' wall time, from the first connection to the last.
				mem_tp[$m]=$(awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$sent_bytes" 'BEGIN { printf "%.2f s, %.1f MB/s", b - a, n / (b - a) / 1e6 }')
			fi
			proxy_pid=$launched_pid settled=0
			settle
			mem_disk[$m]=$(spill_disk)
			proxy_pid=
			stop "$key"
			if [ -n "$stop_panic" ]; then
				mem_tp[$m]="${mem_tp[$m]}; wstap: $stop_panic"
				status=1
			fi
			mem_rss[$m]=$rss mem_stop[$m]=$stop_secs mem_msgs_of[$m]=$sent_msgs mem_conns_of[$m]=$sent_conns
			mem_size[$m]=-
			if [ -e "$work/$key.json" ]; then
				mem_size[$m]=$(awk -v b="$(stat -c %s "$work/$key.json")" 'BEGIN { printf "%.0f MB", b / 1e6 }')
			fi
			jsoncheck "$work/$key.json"
			mem_check[$m]=$check
			rm -f "$work/$key.json"
			echo "  $key: ${mem_tp[$m]}, peak RSS $(mib "$rss") MiB, spill on disk ${mem_disk[$m]} once settled, stopped in $stop_secs s, JSON ${mem_size[$m]}: $check"
		done
		;;
	esac
done

echo
echo "Throughput: $count messages of $size bytes echoed, $inflight in flight, one connection; MB/s is payload bytes one way per second of wall time (10^6 B/s)."
echo "Round trips: $rtt messages of 16 bytes one at a time; percentiles are medians over the runs; the delta is against the plain relay's p50."
echo "Peak RSS is the proxy's (GNU time), over all its runs."
echo "Proxy CPU is the proxy process's user and system time during each throughput run, per GB relayed (both directions; median of the runs): what it takes from the two cores it shares with the peers."
for p in $parts; do
	case $p in
	ws)
		table_head "ws (wstap reverse mode)" relay
		row ws-direct "direct (client → server)" ws-relay
		row ws-relay "proxypeer relay (io.Copy)" ws-relay
		row ws-copyrelay "proxypeer relay -copy (read/write through user space)" ws-relay
		if [ "$mitm" = 1 ]; then row ws-mitm "mitmdump --mode reverse" ws-relay; fi
		row ws-wstap "wstap proxy --upstream --json /dev/null" ws-relay
		row ws-wstap-json "wstap proxy --upstream --json FILE" ws-relay
		if [ "$mitm" = 0 ]; then echo; echo "mitmdump is not installed: its row is skipped."; fi
		;;
	wss)
		table_head "wss (TLS intercepted)" tlsrelay
		row wss-direct "direct TLS (client → server)" wss-tlsrelay
		row wss-tlsrelay "proxypeer tlsrelay (TLS in, TLS out)" wss-tlsrelay
		if [ "$mitm" = 1 ]; then row wss-mitm "mitmdump, CONNECT + TLS interception" wss-tlsrelay; fi
		row wss-wstap "wstap proxy (forward), CONNECT + TLS interception, --json /dev/null" wss-tlsrelay
		row wss-wstap-json "wstap proxy (forward), CONNECT + TLS interception, --json FILE" wss-tlsrelay
		;;
	memory)
		cat <<EOF

| wstap proxy --upstream --json FILE, 1 KiB messages | connections | messages each way | client: wall, MB/s | wstap peak RSS | spill on disk, settled | exit after SIGTERM | JSON size | JSON holds every message |
|---|---|---|---|---|---|---|---|---|
| one connection, 32 in flight | ${mem_conns_of[one]} | ${mem_msgs_of[one]} | ${mem_tp[one]} | $(mib "${mem_rss[one]}") MiB | ${mem_disk[one]} | ${mem_stop[one]} s | ${mem_size[one]} | ${mem_check[one]} |
| $mem_conns connections open at once, 4 in flight each | ${mem_conns_of[many]} | ${mem_msgs_of[many]} | ${mem_tp[many]} | $(mib "${mem_rss[many]}") MiB | ${mem_disk[many]} | ${mem_stop[many]} s | ${mem_size[many]} | ${mem_check[many]} |
| $mem_rounds rounds of $mem_conns connections, one after another, 2 messages each | ${mem_conns_of[turn]} | ${mem_msgs_of[turn]} | ${mem_tp[turn]} | $(mib "${mem_rss[turn]}") MiB | ${mem_disk[turn]} | ${mem_stop[turn]} s | ${mem_size[turn]} | ${mem_check[turn]} |
EOF
		;;
	esac
done
exit "$status"
