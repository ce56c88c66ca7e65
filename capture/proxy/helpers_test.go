package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture/proxy/ca"
	"github.com/wstap/wstap/session"
)

// recorder keeps a copy of every byte read from and written to the
// connections it wraps: what a peer really sent and received.
type recorder struct {
	// off stops the recording (benchmarks), not the counting.
	off         bool
	mu          sync.Mutex
	read, wrote bytes.Buffer
	accepted    atomic.Int32
}

func (r *recorder) bytes() (read, wrote []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.read.Bytes()), bytes.Clone(r.wrote.Bytes())
}

type recordedConn struct {
	net.Conn
	r *recorder
}

func (c recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.read.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

func (c recordedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.r.mu.Lock()
	c.r.wrote.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

// recordingListener records every connection it accepts into r (after
// TLS, when it wraps a TLS listener: the bytes the application saw).
type recordingListener struct {
	net.Listener
	r *recorder
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.r.accepted.Add(1)
	if l.r.off {
		return c, nil
	}
	if tc, ok := c.(*tls.Conn); ok {
		// The handshake first, so that the recorder sees application
		// bytes only.
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return recordedConn{c, l.r}, nil
		}
		tc.SetDeadline(time.Time{})
	}
	return recordedConn{c, l.r}, nil
}

// newCA makes a CA in a temporary directory.
func newCA(t testing.TB) *ca.CA {
	t.Helper()
	c, err := ca.Load(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pool is a certificate pool holding c's certificate.
func pool(c *ca.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Certificate())
	return p
}

// upstream is a test server: a gorilla echo server with permessage-deflate
// that answers GET /plain with a plain body and records what its
// connections carried, over TLS when it has a CA.
type upstream struct {
	addr string // 127.0.0.1:port
	port string
	rec  *recorder
	ca   *ca.CA // nil for plain
	// hosts and origins are the Host and Origin of every request.
	mu      sync.Mutex
	hosts   []string
	origins []string
}

func startUpstream(t testing.TB, withTLS bool) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String(), rec: &recorder{}}
	_, u.port, _ = net.SplitHostPort(u.addr)
	if withTLS {
		u.ca = newCA(t)
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: u.ca.GetCertificate("localhost"), NextProtos: []string{"http/1.1"}})
	}
	up := &websocket.Upgrader{EnableCompression: true, CheckOrigin: func(*http.Request) bool { return true }}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.hosts = append(u.hosts, r.Host)
		u.origins = append(u.origins, r.Header.Get("Origin"))
		u.mu.Unlock()
		switch r.URL.Path {
		case "/plain":
			io.WriteString(w, "plain body of "+r.URL.RawQuery)
			return
		case "/upload":
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(typ, msg) != nil {
				return
			}
		}
	})}
	go srv.Serve(recordingListener{ln, u.rec})
	t.Cleanup(func() { srv.Close() })
	return u
}

// wsURL is the URL of path on u, by host (localhost for TLS, so that the
// certificate's name matches).
func (u *upstream) wsURL(path string) string {
	if u.ca != nil {
		return "wss://localhost:" + u.port + path
	}
	return "ws://" + u.addr + path
}

// testProxy is a proxy serving on a loopback port, with its store.
type testProxy struct {
	p     *Proxy
	addr  string
	store *session.Store
	mu    sync.Mutex
	warns []string
	stop  func() error
}

// startProxy serves a proxy with opts (Tap and Warn are set here).
func startProxy(t testing.TB, opts Options) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tp := &testProxy{addr: ln.Addr().String(), store: st}
	opts.Tap = session.NewTap(st, session.TapOptions{})
	opts.Warn = func(msg string) {
		tp.mu.Lock()
		tp.warns = append(tp.warns, msg)
		tp.mu.Unlock()
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tp.p = p
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, ln) }()
	var once sync.Once
	var serr error
	tp.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serr = <-served:
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return within 10 s of the stop")
			}
		})
		return serr
	}
	t.Cleanup(func() { tp.stop() })
	return tp
}

// proxyURL is the proxy's address as an HTTP proxy URL.
func (tp *testProxy) proxyURL() *url.URL { return &url.URL{Scheme: "http", Host: tp.addr} }

// warnings returns the warnings so far.
func (tp *testProxy) warnings() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]string(nil), tp.warns...)
}

// ended waits until n connections ended and returns them all, whole.
func (tp *testProxy) ended(t testing.TB, n int) []*session.Conversation {
	t.Helper()
	var conns []*session.Conversation
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		conns, err = tp.store.Ended()
		if err != nil {
			t.Fatal(err)
		}
		if len(conns) >= n {
			return conns
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections ended after 15 s, want %d; warnings %q", len(conns), n, tp.warnings())
		}
	}
}

// idle waits until the proxy relays nothing.
func (tp *testProxy) idle(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); tp.p.Active() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still relayed after 15 s", tp.p.Active())
		}
	}
}

// baseline is the goroutines and file descriptors of the test process at
// one moment, to check that connections leave nothing behind.
type baseline struct {
	goroutines, fds int
}

func takeBaseline() baseline {
	return baseline{runtime.NumGoroutine(), openFDs()}
}

// openFDs counts the process's open file descriptors (Linux), or -1.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// check waits until the goroutines and descriptors are back to b (within
// slack for the runtime's own), failing with a goroutine dump otherwise.
func (b baseline) check(t testing.TB, slack int) {
	t.Helper()
	var now baseline
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		now = takeBaseline()
		if now.goroutines <= b.goroutines+slack && (b.fds < 0 || now.fds <= b.fds+slack) {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "capture/proxy.") {
			ours = append(ours, g)
		}
	}
	t.Fatalf("goroutines %d (baseline %d), descriptors %d (baseline %d); the proxy's goroutines:\n%s",
		now.goroutines, b.goroutines, now.fds, b.fds, strings.Join(ours, "\n\n"))
}
