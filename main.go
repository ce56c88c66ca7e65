// Command wstap is a WebSocket debugging proxy and traffic inspector.
//
//	wstap demo [--once]                 local echo server and scripted client through the proxy
//	wstap read FILE...                  decode pcap, pcapng, HAR or wstap JSON files ("-" = stdin)
//	wstap proxy --upstream URL [--listen ADDR]   reverse proxy for ws:// traffic, decoded on the way
//	wstap capture -i IFACE [FILTER]     capture live and decode as it happens
//	wstap version | completion SHELL | help [COMMAND]
//
// Every command but version takes the output flags --json FILE, --har
// FILE, --ndjson FILE, --dump and --redact...; see "wstap help COMMAND".
// The command table is in cli.go, one file per command beside it.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
