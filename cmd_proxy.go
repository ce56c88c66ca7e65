package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
)

const proxyUsage = `Usage: wstap proxy [--listen ADDR] --upstream URL [flags]

A reverse proxy for plain ws:// traffic: every connection accepted on ADDR
is relayed to the upstream's host and port, byte for byte in both
directions (nothing is re-framed or rewritten), and decoded on the way:
the Upgrade handshake, every frame and message, and plain HTTP requests
(which appear as ordinary HAR entries). Point the client at ADDR instead
of the server. URL is ws://HOST:PORT, http://HOST:PORT or HOST:PORT; its
path is ignored, the client's request goes through unchanged.

Stop it with Ctrl-C (SIGINT) or SIGTERM: open connections are closed and
the output files are written, with everything decoded until then.

Without an output flag the messages are printed as with --dump (the
terminal UI does not exist yet).

Flags:
`

// cmdProxy implements "wstap proxy".
func cmdProxy(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runProxy(ctx, args, stdout, stderr)
}

// runProxy proxies until ctx is done (the signal, or a test).
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, out := commandFlags("proxy", proxyUsage, stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "accept connections on `ADDR` (host:port; port 0 picks a free one)")
	upstream := fs.String("upstream", "", "relay every connection to `URL` (ws://HOST:PORT, http://HOST:PORT or HOST:PORT)")
	if status, done := parseCommandFlags(fs, args); done {
		return status
	}
	if *upstream == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "wstap proxy: give the server with --upstream, and no other arguments")
		fs.Usage()
		return 2
	}
	up, err := upstreamAddr(*upstream)
	if err != nil {
		fmt.Fprintf(stderr, "wstap proxy: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "wstap proxy: %v\n", err)
		return 1
	}
	outs, err := out.openForCommand(stdout, stderr)
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "wstap proxy: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "wstap proxy: listening on %s, relaying to %s; stop with Ctrl-C\n", ln.Addr(), up)
	ps := newProxySession(out, outs, up, "wstap proxy", stderr)
	status := 0
	if err := ps.p.Serve(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "wstap proxy: %v\n", err)
		status = 1
	}
	if err := outs.Close(); err != nil {
		fmt.Fprintf(stderr, "wstap proxy: %v\n", err)
		status = 1
	}
	fmt.Fprintf(stderr, "wstap proxy: connections decoded: %d\n", ps.done.Load())
	return status
}

// proxySession is a capture.Proxy wired to the outputs of a command.
type proxySession struct {
	p    *capture.Proxy
	done atomic.Int64
}

func newProxySession(out *outputFlags, outs *outputs, upstream, name string, stderr io.Writer) *proxySession {
	ps := &proxySession{}
	var event decode.Listener
	if out.streams() {
		event = outs.Event
	}
	ps.p = capture.NewProxy(capture.ProxyOptions{
		Upstream: upstream,
		Event:    event,
		Done: func(c *decode.Connection) {
			ps.done.Add(1)
			outs.Done(c)
		},
		Warn: func(msg string) { fmt.Fprintf(stderr, "%s: warning: %s\n", name, msg) },
	})
	return ps
}

// upstreamAddr turns the --upstream URL into the host:port to dial.
func upstreamAddr(s string) (string, error) {
	if !strings.Contains(s, "://") {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return "", fmt.Errorf("--upstream %q: want ws://HOST:PORT, http://HOST:PORT or HOST:PORT: %w", s, err)
		}
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("--upstream: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
	case "wss", "https":
		return "", fmt.Errorf("--upstream %q: TLS upstreams are not supported yet; give a ws:// or http:// server", s)
	default:
		return "", fmt.Errorf("--upstream %q: unknown scheme %q; want ws:// or http://", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("--upstream %q: no host", s)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
