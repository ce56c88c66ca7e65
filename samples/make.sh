#!/bin/sh
# Regenerates the sample captures from real peers over loopback.
# Needs root (or capture rights), tcpdump, dumpcap, editcap, Go and chromium.
# Run from anywhere: ./samples/make.sh [SCENARIO...]
# With scenario names (the -scenario names of peers), only those captures
# are made again; the others are left as they are.
set -eu
cd "$(dirname "$0")"
only=" $* "
for name in "$@"; do
	case " gorilla fragments deflate takeover ipv6 chromium violations " in
	*" $name "*) ;;
	*)
		echo "make.sh: no scenario named $name" >&2
		exit 2
		;;
	esac
done
# wanted SCENARIO: whether this run makes that scenario's capture.
wanted() {
	case $only in
	"  " | *" $1 "*) return 0 ;;
	*) return 1 ;;
	esac
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/peers" ./peers

# capture FILE TOOL IFACE PORT SCENARIO ADDR [LINKTYPE]
# Starts TOOL (tcpdump or dumpcap) on IFACE for the port, runs the
# scenario, then stops the capture.
capture() {
	file=$1 tool=$2 iface=$3 port=$4 scenario=$5 addr=$6 link=${7:-}
	if ! wanted "$scenario"; then return 0; fi
	log="$work/$scenario.log"
	case $tool in
	tcpdump)
		set -- tcpdump -i "$iface" -B 65536 --immediate-mode -U -w "$file"
		if [ -n "$link" ]; then set -- "$@" -y "$link"; fi
		"$@" "tcp port $port" 2>"$log" &
		;;
	dumpcap)
		dumpcap -i "$iface" -B 64 -f "tcp port $port" -w "$file" 2>"$log" &
		;;
	esac
	pid=$!
	# Wait until the capture is running.
	for _ in $(seq 50); do
		if grep -q -i "listening\|capturing" "$log" 2>/dev/null; then break; fi
		sleep 0.1
	done
	sleep 0.3
	if ! "$work/peers" -scenario "$scenario" -addr "$addr"; then
		kill -TERM "$pid"
		wait "$pid" || true
		exit 1
	fi
	sleep 1
	kill -TERM "$pid"
	wait "$pid" || true
	# A capture that lost packets is no sample.
	if grep -E -q "[1-9][0-9]* packets dropped|dropped on interface.*/[1-9]" "$log"; then
		cat "$log" >&2
		exit 1
	fi
	if [ "$tool" = dumpcap ]; then
		# Keep the capture tool's name, drop the host's description.
		"$work/peers" -scrub "$file"
	fi
	echo "$file: $(stat -c %s "$file") bytes"
}

capture gorilla-basic.pcapng dumpcap lo 9101 gorilla 127.0.0.1:9101
capture gorilla-fragments.pcap tcpdump lo 9102 fragments 127.0.0.1:9102
if wanted fragments; then gzip -9 -n -f gorilla-fragments.pcap; fi
capture gorilla-deflate.pcap tcpdump lo 9103 deflate 127.0.0.1:9103
capture coder-takeover-sll.pcap tcpdump any 9104 takeover 127.0.0.1:9104 LINUX_SLL
capture ipv6-multi-sll2.pcap tcpdump any 9105 ipv6 '[::1]:9105' LINUX_SLL2
capture chromium-deflate.pcapng dumpcap lo 9106 chromium 127.0.0.1:9106
capture violations.pcap tcpdump lo 9107 violations 127.0.0.1:9107
chmod 0644 ./*.pcap*
chown "$(id -u):$(id -g)" ./*.pcap*
