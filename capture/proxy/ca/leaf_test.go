package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// caPool returns a pool holding only ca's certificate.
func caPool(ca *CA) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	return pool
}

// parseLeaf returns the parsed first certificate of leaf.
func parseLeaf(t testing.TB, leaf *tls.Certificate) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifyLeaf checks leaf against a pool holding only ca, for host, as a
// TLS client would.
func verifyLeaf(t *testing.T, ca *CA, leaf *tls.Certificate, host string) {
	t.Helper()
	if len(leaf.Certificate) != 2 {
		t.Fatalf("chain of %d certificates, want leaf and CA", len(leaf.Certificate))
	}
	if string(leaf.Certificate[1]) != string(ca.Certificate().Raw) {
		t.Error("the chain's second certificate is not the CA")
	}
	_, err := parseLeaf(t, leaf).Verify(x509.VerifyOptions{
		DNSName:   host,
		Roots:     caPool(ca),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		t.Errorf("leaf for %s does not verify: %v", host, err)
	}
}

func TestLeaf(t *testing.T) {
	ca := mustLoad(t, newDir(t))
	start := time.Now()
	for _, tc := range []struct {
		host string
		ip   bool
	}{
		{"example.com", false},
		{"localhost", false},
		{"127.0.0.1", true},
		{"::1", true},
	} {
		t.Run(tc.host, func(t *testing.T) {
			leaf, err := ca.Leaf(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			verifyLeaf(t, ca, leaf, tc.host)
			c := parseLeaf(t, leaf)
			if tc.ip {
				if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP(tc.host)) || len(c.DNSNames) != 0 {
					t.Errorf("SAN: IPs %v DNS %q, want the iPAddress %s only", c.IPAddresses, c.DNSNames, tc.host)
				}
			} else if len(c.DNSNames) != 1 || c.DNSNames[0] != tc.host || len(c.IPAddresses) != 0 {
				t.Errorf("SAN: DNS %q IPs %v, want the dNSName %s only", c.DNSNames, c.IPAddresses, tc.host)
			}
			if c.Subject.CommonName != tc.host {
				t.Errorf("common name %q", c.Subject.CommonName)
			}
			if c.IsCA || !c.BasicConstraintsValid {
				t.Error("leaf does not say cA false")
			}
			if c.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("key usage %b, want DigitalSignature", c.KeyUsage)
			}
			if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("extended key usage %v, want ServerAuth", c.ExtKeyUsage)
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("leaf key %T, want ECDSA P-256", c.PublicKey)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %v", c.SerialNumber)
			}
			if d := start.Add(-24 * time.Hour).Sub(c.NotBefore); d < -time.Minute || d > time.Minute {
				t.Errorf("NotBefore %v, want a day before now", c.NotBefore)
			}
			// Inclusive of both ends, as the Baseline Requirements count.
			if life := c.NotAfter.Sub(c.NotBefore) + time.Second; life > 397*24*time.Hour {
				t.Errorf("valid for %v, more than 397 days", life)
			}
			if string(c.AuthorityKeyId) != string(ca.Certificate().SubjectKeyId) {
				t.Error("authority key identifier is not the CA's key identifier")
			}
			if _, ok := leaf.PrivateKey.(*ecdsa.PrivateKey); !ok {
				t.Errorf("private key %T", leaf.PrivateKey)
			}
		})
	}
	a, _ := ca.Leaf("example.com")
	b, _ := ca.Leaf("localhost")
	if parseLeaf(t, a).SerialNumber.Cmp(parseLeaf(t, b).SerialNumber) == 0 {
		t.Error("two leaves share a serial number")
	}
	if a.PrivateKey != b.PrivateKey {
		t.Error("leaves of one load do not share their key")
	}
}

func TestLeafNormalizesHost(t *testing.T) {
	ca := mustLoad(t, newDir(t))
	for _, group := range [][]string{
		{"example.com", "EXAMPLE.com", "example.com.", "example.com:443", "Example.Com.:8443"},
		{"::1", "[::1]", "[::1]:443", "0:0:0:0:0:0:0:1", "::1%lo"},
		{"127.0.0.1", "127.0.0.1:8080", "::ffff:127.0.0.1"},
	} {
		first, err := ca.Leaf(group[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range group[1:] {
			got, err := ca.Leaf(h)
			if err != nil {
				t.Errorf("Leaf(%q): %v", h, err)
				continue
			}
			if got != first {
				t.Errorf("Leaf(%q) is not the cached leaf of %q", h, group[0])
			}
		}
	}
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 10) + ".example"
	leaf, err := ca.Leaf(long)
	if err != nil {
		t.Fatal(err)
	}
	verifyLeaf(t, ca, leaf, long)
	if parseLeaf(t, leaf).Subject.CommonName != "" {
		t.Errorf("common name of %d bytes set: RFC 5280 allows 64", len(long))
	}

	for _, bad := range []string{
		"", ":443", "[]", "exa mple.com", "example..com", ".example.com", "ex/ample.com",
		"bücher.example", strings.Repeat("a", 64) + ".example", strings.Repeat("a.", 127) + "ab",
		"*.example.com",
	} {
		if _, err := ca.Leaf(bad); err == nil {
			t.Errorf("Leaf(%q) succeeded, want an error", bad)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("Leaf(%q): error %q does not name the host", bad, err)
		}
	}
}

// TestLeafOnce asks for one host from 100 goroutines at once: one leaf is
// made, and all get it.
func TestLeafOnce(t *testing.T) {
	ca := mustLoad(t, newDir(t))
	var made atomic.Int32
	ca.generated = func(string) { made.Add(1) }
	const n = 100
	got := make([]*tls.Certificate, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			c, err := ca.Leaf("example.com")
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		})
	}
	close(start)
	wg.Wait()
	if made.Load() != 1 {
		t.Errorf("%d leaves made for one host, want 1", made.Load())
	}
	for i, c := range got {
		if c != got[0] {
			t.Fatalf("goroutine %d got another certificate", i)
		}
	}
}

func TestLeafCacheBound(t *testing.T) {
	ca, err := load(newDir(t), loadOptions{maxLeaves: 3})
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	ca.generated = func(h string) { made = append(made, h) }
	get := func(h string) *tls.Certificate {
		t.Helper()
		c, err := ca.Leaf(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(ca.leaves) > 3 || ca.lru.Len() != len(ca.leaves) {
			t.Fatalf("cache holds %d hosts (list %d), bound 3", len(ca.leaves), ca.lru.Len())
		}
		return c
	}
	a := get("a.example")
	get("b.example")
	get("c.example")
	if get("a.example") != a { // a is now the most recently used
		t.Error("a.example was made again while cached")
	}
	get("d.example") // evicts b, the least recently used
	get("a.example")
	get("c.example")
	get("d.example")
	get("b.example") // made again, evicting a
	want := "a.example b.example c.example d.example b.example"
	if got := strings.Join(made, " "); got != want {
		t.Errorf("made %q, want %q", got, want)
	}
	if maxCachedLeaves < 1000 {
		t.Errorf("maxCachedLeaves = %d: too small for a browsing session", maxCachedLeaves)
	}
}

// TestLeafCacheConcurrent mixes hosts, goroutines and a small bound, for
// the race detector and the cache's invariants.
func TestLeafCacheConcurrent(t *testing.T) {
	t.Parallel()
	ca, err := load(newDir(t), loadOptions{maxLeaves: 5})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				host := fmt.Sprintf("h%d.example", (g*7+i)%12)
				c, err := ca.Leaf(host)
				if err != nil {
					t.Error(err)
					return
				}
				if got := parseLeaf(t, c).DNSNames[0]; got != host {
					t.Errorf("asked for %s, got %s", host, got)
					return
				}
			}
		})
	}
	wg.Wait()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if len(ca.leaves) > 5 || ca.lru.Len() != len(ca.leaves) {
		t.Errorf("cache holds %d hosts, list %d, bound 5", len(ca.leaves), ca.lru.Len())
	}
}

// clock is a settable time for a CA under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

func TestLeafRenewed(t *testing.T) {
	clk := &clock{t: time.Now()}
	ca, err := load(newDir(t), loadOptions{now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ca.Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	firstEnd := parseLeaf(t, first).NotAfter
	clk.set(firstEnd.Add(-2 * leafRenewBefore))
	if c, _ := ca.Leaf("example.com"); c != first {
		t.Error("a leaf far from its end was made again")
	}
	clk.set(firstEnd.Add(-leafRenewBefore / 2))
	second, err := ca.Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !parseLeaf(t, second).NotAfter.After(firstEnd) {
		t.Error("a leaf about to expire was handed out again")
	}

	// Near the CA's own end, leaves end with it and are not remade in a
	// loop.
	end := ca.Certificate().NotAfter
	clk.set(end.Add(-10 * 24 * time.Hour))
	near, err := ca.Leaf("near.example")
	if err != nil {
		t.Fatal(err)
	}
	if got := parseLeaf(t, near).NotAfter; !got.Equal(end) {
		t.Errorf("leaf ends %v, want the CA's end %v", got, end)
	}
	clk.set(end.Add(-time.Hour))
	if c, _ := ca.Leaf("near.example"); c != near {
		t.Error("a leaf cut short by the CA's end was remade")
	}
	clk.set(end.Add(time.Second))
	_, err = ca.Leaf("near.example")
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), ca.CertFile()) {
		t.Errorf("leaf after the CA's end: error %v, want one saying the CA expired", err)
	}
	clk.set(time.Now()) // and the failure was not cached
	if _, err := ca.Leaf("near.example"); err != nil {
		t.Errorf("after a failure: %v", err)
	}
}

// serveTLS accepts one connection on ln, answers its handshake with
// GetCertificate(fallback) and writes "hello". It returns the server's
// handshake error.
func serveTLS(ln net.Listener, ca *CA, fallback string, maxVersion uint16) <-chan error {
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		s := tls.Server(c, &tls.Config{GetCertificate: ca.GetCertificate(fallback), MaxVersion: maxVersion})
		s.SetDeadline(time.Now().Add(10 * time.Second))
		if err := s.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = io.WriteString(s, "hello")
		s.Close()
		done <- err
	}()
	return done
}

func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestHandshake runs real TLS handshakes over loopback: a Go client that
// trusts only the CA connects by name (with SNI) and by address (without,
// so the fallback host chooses the leaf).
func TestHandshake(t *testing.T) {
	ca := mustLoad(t, newDir(t))
	for _, tc := range []struct {
		name       string
		listen     string
		serverName string
		fallback   string
		maxVersion uint16
	}{
		{"dns name", "127.0.0.1:0", "example.com", "wrong.example", 0},
		{"dns name tls1.2", "127.0.0.1:0", "example.com", "", tls.VersionTLS12},
		{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1", 0},
		{"ipv6", "[::1]:0", "::1", "::1", 0},
		{"ipv4 tls1.2", "127.0.0.1:0", "127.0.0.1", "127.0.0.1:443", tls.VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t, "tcp", tc.listen)
			served := serveTLS(ln, ca, tc.fallback, tc.maxVersion)
			conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: caPool(ca), ServerName: tc.serverName})
			if err != nil {
				t.Fatalf("client handshake: %v (server: %v)", err, <-served)
			}
			defer conn.Close()
			got, err := io.ReadAll(conn)
			if err != nil || string(got) != "hello" {
				t.Errorf("read %q, %v", got, err)
			}
			if err := <-served; err != nil {
				t.Errorf("server: %v", err)
			}
			chain := conn.ConnectionState().PeerCertificates
			if len(chain) != 2 || !chain[1].Equal(ca.Certificate()) {
				t.Errorf("server sent %d certificates, want the leaf and the CA", len(chain))
			}
		})
	}

	t.Run("untrusted", func(t *testing.T) {
		ln := listen(t, "tcp", "127.0.0.1:0")
		served := serveTLS(ln, ca, "", 0)
		_, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "example.com"})
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("client trusting nothing: %v, want an unknown authority", err)
		}
		<-served
	})
	t.Run("no name at all", func(t *testing.T) {
		ln := listen(t, "tcp", "127.0.0.1:0")
		served := serveTLS(ln, ca, "", 0)
		_, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: caPool(ca), ServerName: "127.0.0.1"})
		if err == nil {
			t.Error("handshake without SNI or fallback succeeded")
		}
		if err := <-served; err == nil || !strings.Contains(err.Error(), "no server name") {
			t.Errorf("server: %v, want an error saying there is no server name", err)
		}
	})
}
