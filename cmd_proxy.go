package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wstap/wstap/capture/proxy"
	"github.com/wstap/wstap/capture/proxy/ca"
)

// proxyFlags are the flags of "wstap proxy".
type proxyFlags struct {
	listen           string
	upstream         string
	listenTLS        bool
	rewriteHost      bool
	passthrough      []string
	insecureUpstream bool
	upstreamCA       string
	keylog           string
	write            string
	handshakeTimeout time.Duration
	maxConns         int
}

// proxyCommand is "wstap proxy".
func (a *app) proxyCommand() *cobra.Command {
	var (
		out outputFlags
		pf  proxyFlags
	)
	cmd := &cobra.Command{
		Use:   "proxy [--upstream URL] [--listen ADDR] [flags]",
		Short: "Intercepting proxy for ws:// and wss://: relays every byte unchanged and decodes it",
		Long: `An intercepting proxy for WebSocket (and HTTP) traffic. Every byte is
relayed unchanged in both directions and decoded on the way: the Upgrade
handshake, every frame and message, and plain HTTP requests (which appear
as ordinary HAR entries).

With --upstream it is a reverse proxy: clients connect to ADDR as if it
were the server (ws://, or wss:// with --listen-tls), and every connection
goes to URL (ws://, wss://, http:// or https://). Host and Origin pass as
the client sent them unless --rewrite-host.

Without --upstream it is a forward proxy: point the client's HTTP proxy
setting at ADDR. Requests in absolute form (ws:// and http:// through a
proxy) go to the host they name; CONNECT tunnels (wss://, https://, and
ws:// from browsers) are opened to their host, and TLS in them is
intercepted with a certificate of wstap's CA for the name the client asks
for. The client must trust that CA: "wstap ca" says where it is and how.
Hosts given with --passthrough are tunnelled without interception.

Upstream TLS is verified against the system's roots (or --upstream-ca).
--keylog (or the SSLKEYLOGFILE variable) appends the secrets of both TLS
legs in the NSS key log format, for Wireshark; -w writes the relayed
streams, decrypted, as a pcapng file of TCP between the real addresses.

The proxy listens on 127.0.0.1 unless --listen says otherwise: an open
intercepting proxy lets anyone who reaches it read and change traffic.

Stop it with Ctrl-C (SIGINT) or SIGTERM: open connections are closed and
the outputs are written, with everything decoded until then.

Without an output flag, on a terminal, the terminal UI opens and follows the
traffic (press ? in it for its keys); --dump prints the
conversation instead, one line per message.`,
		Example: `  wstap proxy --upstream ws://127.0.0.1:9000
  wstap proxy --upstream wss://echo.example.com --listen-tls --har bug.har
  wstap proxy --listen 127.0.0.1:8080 -w session.pcapng --json session.json
  HTTPS_PROXY=http://127.0.0.1:8080 node client.js`,
		Args: noArgs(`"wstap proxy" takes no arguments; give the server with --upstream`),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := pf.options()
			if err != nil {
				return usageError{err}
			}
			return a.runJob(cmd, func(j *job) error {
				return j.proxy(&out, &pf, opts)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&pf.listen, "listen", "l", "127.0.0.1:8080", "accept connections on `ADDR` (host:port; port 0 picks a free one); an address other than loopback lets others use the proxy")
	fs.StringVarP(&pf.upstream, "upstream", "u", "", "reverse proxy: relay every connection to `URL` (ws://, wss://, http://, https:// or HOST:PORT); without it wstap is a forward proxy")
	fs.BoolVar(&pf.listenTLS, "listen-tls", false, "reverse proxy: accept TLS (wss://) with a certificate of wstap's CA")
	fs.BoolVar(&pf.rewriteHost, "rewrite-host", false, "reverse proxy: send the upstream's host in Host and Origin instead of the client's")
	fs.StringArrayVar(&pf.passthrough, "passthrough", nil, "forward proxy: tunnel connections to `HOST` without intercepting or decoding them (repeatable)")
	fs.BoolVar(&pf.insecureUpstream, "insecure-upstream", false, "do not verify the certificates of TLS upstreams")
	fs.StringVar(&pf.upstreamCA, "upstream-ca", "", "verify TLS upstreams against the CA certificates in `FILE` (PEM) instead of the system's")
	fs.StringVar(&pf.keylog, "keylog", "", "append the TLS secrets of both legs to `FILE` in the NSS key log format (default $SSLKEYLOGFILE)")
	fs.StringVarP(&pf.write, "write", "w", "", "also write the relayed streams, decrypted, to `FILE.pcapng` as TCP between the real addresses, as they pass")
	fs.DurationVar(&pf.handshakeTimeout, "handshake-timeout", 30*time.Second, "how long a client may take to send its TLS handshake and first request head")
	fs.IntVar(&pf.maxConns, "max-conns", 4096, "most client connections relayed at once; more are answered 503")
	out.register(fs)
	return cmd
}

// options checks the flags and turns them into the proxy's options (all
// but the tap, the CA, the key log and the pcapng file, which the job
// opens).
func (pf *proxyFlags) options() (proxy.Options, error) {
	var o proxy.Options
	if _, _, err := net.SplitHostPort(pf.listen); err != nil {
		return o, fmt.Errorf("--listen %q: want HOST:PORT: %w", pf.listen, err)
	}
	if pf.upstream != "" {
		u, err := upstreamURL(pf.upstream)
		if err != nil {
			return o, err
		}
		o.Upstream = u
	} else {
		switch {
		case pf.listenTLS:
			return o, errors.New("--listen-tls is for the reverse proxy: give the server with --upstream")
		case pf.rewriteHost:
			return o, errors.New("--rewrite-host is for the reverse proxy: give the server with --upstream")
		}
	}
	if len(pf.passthrough) > 0 && o.Upstream != nil {
		return o, errors.New("--passthrough is for the forward proxy (without --upstream)")
	}
	if pf.insecureUpstream && pf.upstreamCA != "" {
		return o, errors.New("give --insecure-upstream or --upstream-ca, not both")
	}
	if pf.handshakeTimeout <= 0 {
		return o, fmt.Errorf("--handshake-timeout %v: want a positive duration, such as 30s", pf.handshakeTimeout)
	}
	if pf.maxConns <= 0 {
		return o, fmt.Errorf("--max-conns %d: want at least 1", pf.maxConns)
	}
	o.ListenTLS = pf.listenTLS
	o.RewriteHost = pf.rewriteHost
	o.Passthrough = pf.passthrough
	o.InsecureUpstream = pf.insecureUpstream
	o.HandshakeTimeout = pf.handshakeTimeout
	o.MaxConns = pf.maxConns
	return o, nil
}

// needsCA reports whether the proxy terminates TLS itself.
func needsCA(o proxy.Options) bool { return o.Upstream == nil || o.ListenTLS }

// proxy runs the proxy until the job is stopped.
func (j *job) proxy(out *outputFlags, pf *proxyFlags, opts proxy.Options) error {
	if err := out.settle(j.stdout); err != nil {
		return err
	}
	keylog := pf.keylog
	if keylog == "" {
		keylog = os.Getenv("SSLKEYLOGFILE")
	}
	if pf.write == "-" {
		return usagef("-w needs a file name: the pcapng file is written beside the other outputs")
	}
	if err := out.check(nil, writeFlag(pf.write)...); err != nil {
		return err
	}
	if keylog != "" {
		if kind := sniffCapture(keylog); kind != "" {
			return usagef("--keylog %s: the file is a %s; the key log is a text file of its own", keylog, kind)
		}
	}
	if pf.upstreamCA != "" {
		pool, err := loadRoots(pf.upstreamCA)
		if err != nil {
			return err
		}
		opts.UpstreamRoots = pool
	}
	if needsCA(opts) {
		dir, err := ca.Dir()
		if err != nil {
			return fmt.Errorf("finding the CA's directory: %w", err)
		}
		if opts.CA, err = ca.Load(dir); err != nil {
			return fmt.Errorf("loading wstap's CA: %w", err)
		}
	}
	ln, err := net.Listen("tcp", pf.listen)
	if err != nil {
		return err
	}
	if !loopback(ln.Addr()) {
		j.warnf("listening on %s, which is not a loopback address: anyone who reaches it can relay through wstap%s", ln.Addr(),
			map[bool]string{true: " and have their TLS read with wstap's CA", false: ""}[needsCA(opts)])
	}
	run, err := j.startProxy(out, opts, pf.write, keylog)
	if err != nil {
		ln.Close()
		return err
	}
	defer run.close(j)
	switch {
	case opts.Upstream != nil:
		scheme := "ws"
		if opts.ListenTLS {
			scheme = "wss"
		}
		j.infof("listening on %s://%s, relaying to %s; stop with Ctrl-C", scheme, ln.Addr(), opts.Upstream)
	default:
		j.infof("forward proxy on http://%s (TLS intercepted with the CA in %s; see wstap ca); stop with Ctrl-C", ln.Addr(), opts.CA.Dir())
	}
	return run.p.Serve(j.ctx, ln)
}

// upstreamURL parses --upstream: a ws://, wss://, http:// or https:// URL,
// or HOST:PORT for ws://.
func upstreamURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("--upstream %q: want ws://HOST:PORT, wss://HOST:PORT, http://, https:// or HOST:PORT: %w", s, err)
		}
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--upstream: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return nil, fmt.Errorf("--upstream %q: unknown scheme %q; want ws://, wss://, http:// or https://", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("--upstream %q: no host", s)
	}
	return u, nil
}

// loadRoots reads the PEM certificates of --upstream-ca.
func loadRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--upstream-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--upstream-ca %s: no PEM certificate in the file", path)
	}
	return pool, nil
}

// loopback reports whether addr is a loopback address only.
func loopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
