// Command wstap is a WebSocket debugging proxy and traffic inspector.
//
//	wstap demo [--once]                 local wss server and scripted client through the proxy
//	wstap read FILE...                  decode pcap, pcapng, HAR or wstap JSON files ("-" = stdin)
//	wstap proxy [--upstream URL]        intercepting proxy for ws:// and wss://, forward or reverse
//	wstap capture -i IFACE [FILTER]     capture live and decode as it happens
//	wstap ca [--path]                   the proxy's CA, and how to trust it
//	wstap version | completion SHELL | help [COMMAND]
//
// Every command but version and ca takes the output flags --json FILE, --har
// FILE, --ndjson FILE, --dump and --redact...; see "wstap help COMMAND".
// The command table is in cli.go, one file per command beside it.
package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target (GOGC) unless the
// environment sets one. Most of wstap's heap is long-lived (the store's
// index of every frame and message), so Go's default of 100, which lets
// the heap reach twice what is live, mostly holds garbage at the peak;
// at 50 the peak RSS of the benchmarks is 20-30 MB lower (read --json on
// the short capture 139 -> 108 MiB, the proxy with 500 connections
// 170 -> 142 MiB) for about 5% more CPU (BENCHMARKS.md).
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
