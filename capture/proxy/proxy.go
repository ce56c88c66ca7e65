// Package proxy is wstap's intercepting proxy: a reverse proxy for one
// upstream (ws:// or wss://), or a forward proxy (absolute-form requests
// and CONNECT tunnels, TLS intercepted with leaves of wstap's CA), that
// relays every byte unchanged and hands a copy of what each connection
// carries to the session tap.
//
// It is made of small layers, each in a file of its own, as mitmproxy's
// proxy is: listen.go accepts (with a cap, and patience with the
// operating system's limits), reverse.go and forward.go decide where a
// client's connection goes, tls.go terminates and originates TLS, http1.go
// reads HTTP/1.1 heads and bodies, exchange.go relays the exchanges that
// must be read request by request, relay.go copies bytes in both
// directions, feed.go takes the copy to the
// decoder (the relay waits for it only when it is far behind, never for
// an output), and answer.go says why when the proxy cannot relay.
package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wstap/wstap/capture/proxy/ca"
	"github.com/wstap/wstap/capture/synth"
	"github.com/wstap/wstap/session"
)

// Defaults of Options, each with its reason.
const (
	// defaultHandshakeTimeout bounds how long a client may take to send
	// the head of its first request (and, through TLS, its handshake):
	// a client that trickles a byte every few seconds must not hold
	// descriptors for ever. Established WebSockets may idle for ever.
	defaultHandshakeTimeout = 30 * time.Second
	// defaultMaxHeadBytes bounds a request or response head; servers
	// commonly refuse more than 8 to 16 KiB.
	defaultMaxHeadBytes = 64 << 10
	// defaultMaxConns is the most client connections relayed at once:
	// well under a default file descriptor limit of 1024 pairs once
	// raised by Go, and far above what debugging traffic needs.
	defaultMaxConns = 4096
	// defaultDialTimeout bounds connecting to an upstream.
	defaultDialTimeout = 10 * time.Second
)

// Options configure a Proxy.
type Options struct {
	// Tap decodes and records every relayed connection.
	Tap *session.Tap
	// Upstream makes a reverse proxy: every client connection goes to
	// this ws://, wss://, http:// or https:// server. Nil makes a forward
	// proxy.
	Upstream *url.URL
	// RewriteHost replaces the Host header (and Origin) of requests with
	// the upstream's in reverse mode; otherwise they pass as sent.
	RewriteHost bool
	// CA signs the leaves of intercepted TLS and of a TLS listener.
	CA *ca.CA
	// ListenTLS makes a reverse proxy accept TLS (wss://) itself, with a
	// leaf of CA for the name the client asks for (SNI), or for the
	// address it connected to when it sends none.
	ListenTLS bool
	// UpstreamRoots verify upstream TLS; nil is the system's roots.
	// InsecureUpstream skips the verification.
	UpstreamRoots    *x509.CertPool
	InsecureUpstream bool
	// KeyLog, if set, receives the secrets of both TLS legs in the NSS
	// key log format. It must be safe for concurrent use.
	KeyLog io.Writer
	// Passthrough lists hosts whose CONNECT tunnels are relayed without
	// interception (and not decoded).
	Passthrough []string
	// HandshakeTimeout, MaxHeadBytes, MaxConns and DialTimeout: zero
	// means the default.
	HandshakeTimeout time.Duration
	MaxHeadBytes     int
	MaxConns         int
	DialTimeout      time.Duration
	// Pcap, if set, also receives the relayed (decrypted) streams as
	// synthetic TCP (--write).
	Pcap *synth.Writer
	// Warn, if set, receives what went wrong that the decoder cannot show.
	// Called from several goroutines.
	Warn func(string)
}

// Proxy relays connections accepted on a listener.
type Proxy struct {
	opts   Options
	dialer net.Dialer
	// buffers (relayBuffer), small (smallBuffer) and bulk (bulkBuffer)
	// are the relays' read buffers and the decoders' queues, shared by all
	// connections (see relayBuffer).
	buffers, small, bulk sync.Pool
	// lag bounds the copies waiting for decoders.
	lag *lag
	// reads and relayed count the relay's reads and the bytes they
	// carried (Relayed).
	reads, relayed atomic.Int64

	mu      sync.Mutex
	conns   map[*clientConn]struct{}
	closing bool
	wg      sync.WaitGroup
	refused int
}

// New returns a proxy with opts, checked.
func New(opts Options) (*Proxy, error) {
	if opts.Tap == nil {
		return nil, errors.New("proxy: no tap to record into")
	}
	if u := opts.Upstream; u != nil {
		switch u.Scheme {
		case "ws", "http", "wss", "https":
		default:
			return nil, fmt.Errorf("proxy: upstream %s: want ws://, wss://, http:// or https://", u)
		}
		if u.Hostname() == "" {
			return nil, fmt.Errorf("proxy: upstream %s has no host", u)
		}
	}
	if (opts.ListenTLS || opts.Upstream == nil) && opts.CA == nil {
		return nil, errors.New("proxy: TLS interception needs the CA")
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = defaultHandshakeTimeout
	}
	if opts.MaxHeadBytes <= 0 {
		opts.MaxHeadBytes = defaultMaxHeadBytes
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = defaultMaxConns
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = defaultDialTimeout
	}
	p := &Proxy{opts: opts, conns: map[*clientConn]struct{}{}, lag: newLag()}
	p.buffers.New = func() any { b := make([]byte, relayBuffer); return &b }
	p.small.New = func() any { b := make([]byte, smallBuffer); return &b }
	p.bulk.New = func() any { b := make([]byte, bulkBuffer); return &b }
	p.dialer.Timeout = opts.DialTimeout
	return p, nil
}

// Relayed returns how many reads the relay made and how many bytes they
// carried, in both directions of every connection so far: their ratio
// says whether bytes move in large reads.
func (p *Proxy) Relayed() (reads, bytes int64) {
	return p.reads.Load(), p.relayed.Load()
}

// Active returns how many client connections are being relayed.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) warn(format string, args ...any) {
	if p.opts.Warn != nil {
		p.opts.Warn(fmt.Sprintf(format, args...))
	}
}

// upstreamTLS reports whether the reverse upstream speaks TLS.
func (p *Proxy) upstreamTLS() bool {
	u := p.opts.Upstream
	return u != nil && (u.Scheme == "wss" || u.Scheme == "https")
}

// upstreamAddr is the reverse upstream's host:port.
func (p *Proxy) upstreamAddr() string {
	u := p.opts.Upstream
	port := u.Port()
	if port == "" {
		port = "80"
		if p.upstreamTLS() {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// passthrough reports whether CONNECT tunnels to host are left alone.
func (p *Proxy) passthrough(host string) bool {
	for _, h := range p.opts.Passthrough {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// Serve accepts connections on ln until ctx is done or ln fails for good.
// Then it stops accepting, closes every connection, ends every decoder,
// and returns once all of that is finished: nothing relayed before the
// stop is lost. It returns nil when stopped by ctx.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	err := p.accept(ctx, ln)
	ln.Close()
	p.mu.Lock()
	p.closing = true
	for c := range p.conns {
		c.abort()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
