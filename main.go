// Command wstap is a WebSocket debugging proxy and traffic inspector.
//
//	wstap demo [--once]                 local echo server and scripted client through the proxy
//	wstap read FILE...                  decode pcap, pcapng, HAR or wstap JSON files ("-" = stdin)
//	wstap proxy [--listen ADDR] --upstream URL   reverse proxy for ws:// traffic, decoded on the way
//	wstap capture -i IFACE [--filter EXPR] [--write FILE.pcapng]
//
// Every command takes the output flags --json FILE, --har FILE,
// --ndjson FILE, --dump and --redact...; see "wstap COMMAND -h".
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it parses its own arguments and returns the
// process exit status (0 success, 1 failure, 2 bad usage).
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands is the subcommand table; usage lists it.
func commands() map[string]command {
	return map[string]command{
		"read":    {"decode pcap, pcapng (gzip too), HAR or wstap JSON files; \"-\" reads stdin", cmdRead},
		"capture": {"capture live from a network interface (Linux, root or CAP_NET_RAW)", cmdCapture},
		"demo":    {"a local echo server and a scripted client talking through the proxy", cmdDemo},
		"proxy":   {"reverse proxy for ws:// traffic: relays every byte unchanged and decodes it", cmdProxy},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches to the subcommand named by args[0].
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wstap: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "wstap is a WebSocket debugging proxy and traffic inspector.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: wstap COMMAND [flags] [arguments]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run \"wstap COMMAND -h\" for a command's flags.")
}
