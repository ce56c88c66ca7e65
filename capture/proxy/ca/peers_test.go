package ca

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// peerTimeout bounds each run of an external program.
const peerTimeout = 60 * time.Second

// run runs a program and returns its output, stderr included.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	return runEnv(t, nil, name, args...)
}

// output runs a program with stdin and returns what it wrote to stdout.
func output(t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd.Output()
}

func writeLeafPEM(t *testing.T, leaf *tls.Certificate, path string) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSSL asks OpenSSL, an implementation independent of Go's, for
// its opinion: the leaves verify under -x509_strict (RFC 5280 checks) for
// their name or address and the TLS server purpose, the files parse, the
// fingerprint and the SPKI hash wstap prints are the ones OpenSSL computes,
// and s_client completes a handshake with GetCertificate.
func TestOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := requirePeer(t, "openssl")
	ca := mustLoad(t, newDir(t))
	tmp := t.TempDir()

	for _, tc := range []struct {
		host  string
		check string // -verify_hostname or -verify_ip
		wrong string
	}{
		{"example.com", "-verify_hostname", "other.example"},
		{"localhost", "-verify_hostname", "example.com"},
		{"127.0.0.1", "-verify_ip", "127.0.0.2"},
		{"::1", "-verify_ip", "::2"},
	} {
		leaf, err := ca.Leaf(tc.host)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(tmp, strings.ReplaceAll(tc.host, ":", "_")+".pem")
		writeLeafPEM(t, leaf, path)
		out, err := run(t, openssl, "verify", "-x509_strict", "-purpose", "sslserver",
			"-CAfile", ca.CertFile(), tc.check, tc.host, path)
		if err != nil || !strings.Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %v\n%s", tc.host, err, out)
		}
		out, err = run(t, openssl, "verify", "-x509_strict", "-purpose", "sslserver",
			"-CAfile", ca.CertFile(), tc.check, tc.wrong, path)
		if err == nil {
			t.Errorf("openssl verified the leaf for %s as %s:\n%s", tc.host, tc.wrong, out)
		}
	}
	if out, err := run(t, openssl, "verify", "-x509_strict", "-CAfile", ca.CertFile(), ca.CertFile()); err != nil {
		t.Errorf("openssl verify of the CA itself: %v\n%s", err, out)
	}

	out, err := run(t, openssl, "x509", "-in", ca.CertFile(), "-noout", "-fingerprint", "-sha256")
	if err != nil || !strings.Contains(strings.ToUpper(out), "="+ca.Fingerprint()) {
		t.Errorf("openssl fingerprint %q (%v), wstap says %s", out, err, ca.Fingerprint())
	}

	// The SPKI hash as Chromium's documentation computes it.
	pub, err := run(t, openssl, "x509", "-in", ca.CertFile(), "-noout", "-pubkey")
	if err != nil {
		t.Fatal(err, pub)
	}
	b64 := []byte(pub)
	for _, step := range [][]string{
		{"pkey", "-pubin", "-outform", "der"},
		{"dgst", "-sha256", "-binary"},
		{"base64", "-A"},
	} {
		if b64, err = output(t, b64, openssl, step...); err != nil {
			t.Fatalf("openssl %s: %v", step[0], err)
		}
	}
	if got := strings.TrimSpace(string(b64)); got != ca.SPKIHash() {
		t.Errorf("openssl's SPKI hash %s, wstap's %s", got, ca.SPKIHash())
	}

	// The key file: OpenSSL reads it, and its public key is the
	// certificate's.
	keyPub, err := run(t, openssl, "pkey", "-in", ca.KeyFile(), "-pubout")
	if err != nil || keyPub != pub {
		t.Errorf("openssl pkey -in ca.key -pubout: %v\n%s\nwant\n%s", err, keyPub, pub)
	}

	// A handshake: s_client trusting only the CA, by name and by address.
	for _, tc := range []struct{ host, check string }{
		{"example.com", "-verify_hostname"},
		{"127.0.0.1", "-verify_ip"},
	} {
		ln := listen(t, "tcp", "127.0.0.1:0")
		served := serveTLS(ln, ca, "127.0.0.1", 0)
		args := []string{"s_client", "-connect", ln.Addr().String(), "-CAfile", ca.CertFile(),
			"-verify_return_error", tc.check, tc.host}
		if tc.check == "-verify_hostname" {
			args = append(args, "-servername", tc.host)
		} else {
			args = append(args, "-noservername")
		}
		out, err := run(t, openssl, args...)
		if err != nil || !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Errorf("openssl s_client to %s: %v\n%s", tc.host, err, out)
		}
		if err := <-served; err != nil {
			t.Errorf("server for s_client %s: %v", tc.host, err)
		}
	}
}

// TestChromiumSPKIList starts headless Chromium with the flag the
// instructions print: with --ignore-certificate-errors-spki-list set to
// SPKIHash, it loads a page from a server presenting a leaf of the CA;
// without the flag it does not (the control, so that the test cannot pass
// for another reason).
func TestChromiumSPKIList(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts browsers and interpreters; not with -short")
	}
	chromium := requirePeer(t, "chromium")
	ca := mustLoad(t, newDir(t))
	const marker = "wstap-spki-accepted"

	url := serveHTTPS(t, ca, marker)

	browse := func(extra ...string) (string, error) {
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--dump-dom"}, extra...)
		return run(t, chromium, append(args, url)...)
	}
	type result struct {
		out string
		err error
	}
	with, without := make(chan result, 1), make(chan result, 1)
	go func() {
		out, err := browse("--ignore-certificate-errors-spki-list=" + ca.SPKIHash())
		with <- result{out, err}
	}()
	go func() {
		out, err := browse()
		without <- result{out, err}
	}()
	if r := <-with; !strings.Contains(r.out, marker) {
		t.Errorf("chromium with the SPKI hash did not load the page: %v\n%s", r.err, r.out)
	}
	if r := <-without; strings.Contains(r.out, marker) {
		t.Errorf("chromium without the SPKI hash loaded the page: the test proves nothing\n%s", r.out)
	}
}

// serveHTTPS serves body over HTTPS on 127.0.0.1 with ca's leaves (for
// 127.0.0.1 when the client sends no name) and returns the server's URL.
func serveHTTPS(t *testing.T, ca *CA, body string) string {
	t.Helper()
	ln := listen(t, "tcp", "127.0.0.1:0")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, body)
		}),
		TLSConfig: &tls.Config{GetCertificate: ca.GetCertificate("127.0.0.1")},
		// Refused handshakes (the control runs) would be logged.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String() + "/"
}

// optionalPeer skips the test when program is not installed, also with
// WSTAP_REQUIRE_PEERS=1: CI does not install these; where they are, they
// run the commands of the instructions as printed.
func optionalPeer(t *testing.T, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		t.Skipf("%s is not installed", program)
	}
	return path
}

// bundle writes the bundle the instructions tell Go and Python users to
// make: the system's roots, when there are any, and the CA.
func bundle(t *testing.T, ca *CA) string {
	t.Helper()
	var b []byte
	if sys, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		b = append(b, sys...)
	}
	b = append(b, readAll(t, ca.CertFile())...)
	path := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runEnv runs a program with extra environment variables.
func runEnv(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestClients runs the clients the instructions name, each trusting the CA
// the way the instructions say, against a server presenting its leaves:
// they must get the page, and (the control) must refuse it without the CA.
func TestClients(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts browsers and interpreters; not with -short")
	}
	ca := mustLoad(t, newDir(t))
	const body = "wstap-client-ok"
	url := serveHTTPS(t, ca, body)
	port := url[strings.LastIndexByte(url, ':')+1 : len(url)-1]

	type client struct {
		name    string
		program string
		env     []string // trusting the CA
		args    []string
	}
	pyGet := "import sys, requests; print(requests.get(sys.argv[1]).text)"
	pyOpen := "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
	// Node 19+ keeps connections alive, and the process with them: exit
	// once the page is read.
	nodeGet := "require('https').get(process.argv[1], r => { r.pipe(process.stdout); r.on('end', () => process.exit(0)) })" +
		".on('error', e => { console.error(e.message); process.exit(1) })"
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []client{
		{"curl by address", "curl", nil, []string{"-sS", "--cacert", ca.CertFile(), url}},
		{"curl by name", "curl", nil, []string{"-sS", "--cacert", ca.CertFile(),
			"--resolve", "example.com:" + port + ":127.0.0.1", "https://example.com:" + port + "/"}},
		{"node", "node", []string{"NODE_EXTRA_CA_CERTS=" + ca.CertFile()}, []string{"-e", nodeGet, url}},
		{"python requests", "python3", []string{"REQUESTS_CA_BUNDLE=" + bundle(t, ca)}, []string{"-c", pyGet, url}},
		{"python ssl", "python3", []string{"SSL_CERT_FILE=" + bundle(t, ca)}, []string{"-c", pyOpen, url}},
		{"go", self, []string{"SSL_CERT_FILE=" + bundle(t, ca), "WSTAP_CA_GET=" + url},
			[]string{"-test.run=^TestGoClientHelper$"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			program := c.program
			if !filepath.IsAbs(program) {
				program = optionalPeer(t, program)
			}
			out, err := runEnv(t, c.env, program, c.args...)
			if strings.Contains(out, "No module named 'requests'") {
				t.Skip("python requests is not installed")
			}
			if err != nil || !strings.Contains(out, body) {
				t.Errorf("%s trusting the CA: %v\n%s", c.name, err, out)
			}
			// The control: without the CA, the same client refuses.
			var control []string
			for _, e := range c.env {
				if strings.HasPrefix(e, "WSTAP_CA_GET=") {
					control = append(control, e)
				} else if strings.HasPrefix(e, "SSL_CERT_FILE=") || strings.HasPrefix(e, "REQUESTS_CA_BUNDLE=") {
					control = append(control, e[:strings.IndexByte(e, '=')+1]+"/dev/null")
				}
			}
			args := c.args
			if c.program == "curl" {
				args = slicesWithout(args, "--cacert", ca.CertFile())
			}
			if out, _ := runEnv(t, control, program, args...); strings.Contains(out, body) {
				t.Errorf("%s got the page without trusting the CA: the test proves nothing\n%s", c.name, out)
			}
		})
	}
}

// slicesWithout returns args without the adjacent pair a, b.
func slicesWithout(args []string, a, b string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == a && i+1 < len(args) && args[i+1] == b {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// TestGoClientHelper is the Go program of TestClients: run as a child
// process with WSTAP_CA_GET set, it fetches that URL with the default
// client, which reads SSL_CERT_FILE for its roots.
func TestGoClientHelper(t *testing.T) {
	url := os.Getenv("WSTAP_CA_GET")
	if url == "" {
		t.Skip("run by TestClients")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(string(b))
}
