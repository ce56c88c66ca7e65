// Command proxypeer is the set of peers that scripts/bench-proxy.sh
// measures proxies with: a WebSocket echo server, a load client, the plain
// relays a proxy is compared to, test certificates, and a counter of the
// messages in a wstap JSON export.
//
// The peers are the same for every path measured (direct, through a plain
// relay, through mitmproxy, through wstap), so that the differences in the
// figures are the proxies' own. They use gorilla/websocket, a WebSocket
// implementation other than the one wstap decodes with, so that wstap is
// measured against traffic it did not shape.
//
// Usage:
//
//	proxypeer server   -listen ADDR [-tls-cert F -tls-key F]
//	proxypeer relay    -listen ADDR -to ADDR
//	proxypeer tlsrelay -listen ADDR -to ADDR -cert F -key F -upstream-ca F
//	proxypeer client   -url ws://... | wss://... [-proxy http://ADDR] [-ca F]
//	                   [-size N -count N -inflight N | -rtt N] [-conns N]
//	proxypeer gencert  -dir D
//	proxypeer jsoncount FILE
//	proxypeer freeport
//	proxypeer wait     ADDR
//
// The listening peers print "listening on ADDR" on stdout once they accept
// connections (ADDR with the port the system chose for port 0), so that a
// script can start them on free ports without guessing.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "server":
		err = serverCmd(args)
	case "relay":
		err = relayCmd(args)
	case "tlsrelay":
		err = tlsRelayCmd(args)
	case "client":
		err = clientCmd(args)
	case "gencert":
		err = genCertCmd(args)
	case "jsoncount":
		err = jsonCountCmd(args)
	case "freeport":
		err = freePortCmd(args)
	case "wait":
		err = waitCmd(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxypeer %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: proxypeer server|relay|tlsrelay|client|gencert|jsoncount|freeport|wait [flags]")
	os.Exit(2)
}

// parse parses a subcommand's flags, exiting 2 on a usage error as the
// flag package does.
func parse(fs *flag.FlagSet, args []string) {
	fs.Parse(args) // ExitOnError
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "proxypeer %s: unexpected arguments: %v\n", fs.Name(), fs.Args())
		os.Exit(2)
	}
}

// listen listens on addr and says where, for the script that started us.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return ln, nil
}

// freePortCmd prints a port that was free a moment ago, for programs that
// cannot be told to listen on port 0 and report the port (mitmdump -q).
// Another program may take it in between: on a quiet loopback that is
// rare, and the script then fails loudly rather than measure the wrong
// thing.
func freePortCmd(args []string) error {
	parse(flag.NewFlagSet("freeport", flag.ExitOnError), args)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// waitCmd waits until ADDR accepts TCP connections, at most 30 seconds:
// for programs that do not say when they are ready.
func waitCmd(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("want one ADDR")
	}
	deadline := time.Now().Add(*timeout)
	for {
		c, err := net.DialTimeout("tcp", fs.Arg(0), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
