package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wstap/wstap/capture"
)

// proxyCommand is "wstap proxy".
func (a *app) proxyCommand() *cobra.Command {
	var (
		out      outputFlags
		listen   string
		upstream string
	)
	cmd := &cobra.Command{
		Use:   "proxy --upstream URL [--listen ADDR] [flags]",
		Short: "Reverse proxy for ws:// traffic: relays every byte unchanged and decodes it",
		Long: `A reverse proxy for plain ws:// traffic: every connection accepted on ADDR
is relayed to the upstream's host and port, byte for byte in both
directions (nothing is re-framed or rewritten), and decoded on the way:
the Upgrade handshake, every frame and message, and plain HTTP requests
(which appear as ordinary HAR entries). Point the client at ADDR instead
of the server. URL is ws://HOST:PORT, http://HOST:PORT or HOST:PORT; its
path is ignored, the client's request goes through unchanged.

Stop it with Ctrl-C (SIGINT) or SIGTERM: open connections are closed and
the outputs are written, with everything decoded until then.

Without an output flag the conversation is printed as with --dump.`,
		Example: `  wstap proxy --upstream ws://127.0.0.1:9000
  wstap proxy --listen 127.0.0.1:8081 --upstream 127.0.0.1:9000 --har bug.har`,
		Args: noArgs("give the server with --upstream"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if upstream == "" {
				return usagef("give the server with --upstream (for example --upstream ws://127.0.0.1:9000)")
			}
			up, err := upstreamAddr(upstream)
			if err != nil {
				return usageError{err}
			}
			return a.runJob(cmd, func(j *job) error {
				return j.proxy(&out, listen, up)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&listen, "listen", "l", "127.0.0.1:8080", "accept connections on `ADDR` (host:port; port 0 picks a free one)")
	fs.StringVarP(&upstream, "upstream", "u", "", "relay every connection to `URL` (ws://HOST:PORT, http://HOST:PORT or HOST:PORT)")
	out.register(fs)
	return cmd
}

// proxy relays connections on listen to up until the job is stopped.
func (j *job) proxy(out *outputFlags, listen, up string) error {
	if err := out.settle(j.stdout); err != nil {
		return err
	}
	if err := out.check(nil); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	outs, err := j.openOutputs(out)
	if err != nil {
		ln.Close()
		return err
	}
	j.infof("listening on %s, relaying to %s; stop with Ctrl-C", ln.Addr(), up)
	return newProxy(outs, up, j).Serve(j.ctx, ln)
}

// newProxy makes a capture.Proxy that feeds the outputs of job j.
func newProxy(outs *outputs, upstream string, j *job) *capture.Proxy {
	return capture.NewProxy(capture.ProxyOptions{
		Upstream: upstream,
		Tap:      outs.tap,
		Warn:     func(msg string) { j.warnf("%s", msg) },
	})
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
