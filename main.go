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

import "os"

func main() {
	limitMemory()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
