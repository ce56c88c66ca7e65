package ca

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func instructions(t *testing.T, ca *CA) string {
	t.Helper()
	var b bytes.Buffer
	if err := ca.WriteInstructions(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// joined returns the instructions with broken command lines joined again,
// as a shell reads them.
func joined(s string) string {
	return regexp.MustCompile(` \\\n *`).ReplaceAllString(s, " ")
}

func TestWriteInstructions(t *testing.T) {
	ca := mustLoad(t, newDir(t))
	out := instructions(t, ca)
	cert, key := ca.CertFile(), ca.KeyFile()
	fp := ca.Fingerprint()
	for _, want := range []string{
		// Where, and what to recognise it by.
		cert, key, ca.SPKIHash(), fp[:47], fp[48:], ca.Certificate().Subject.CommonName,
		// curl, Node, Go (with the bundle), Python.
		"curl --cacert " + cert + " --proxy http://127.0.0.1:8080 https://example.com/",
		"NODE_EXTRA_CA_CERTS=" + cert + " node",
		"SSL_CERT_FILE replaces the system roots",
		"cat /etc/ssl/certs/ca-certificates.crt " + cert + " > bundle.pem",
		"SSL_CERT_FILE=bundle.pem HTTPS_PROXY=http://127.0.0.1:8080",
		"REQUESTS_CA_BUNDLE=bundle.pem",
		// Chromium: the SPKI list with the proxy, and NSS.
		"SPKI=" + ca.SPKIHash(),
		`chromium --proxy-server=http://127.0.0.1:8080 --ignore-certificate-errors-spki-list="$SPKI" --user-data-dir=`,
		`certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n wstap -i ` + cert,
		// Firefox: the dialog, certutil on cert9.db, the policy.
		"Settings > Privacy & Security > Certificates > View Certificates >",
		"cert9.db", `certutil -d sql:PROFILE_DIR -A -t "C,," -n wstap -i ` + cert,
		"/etc/firefox/policies/policies.json", `"Install": ["` + cert + `"]`,
		// Debian and Ubuntu.
		"sudo cp " + cert + " /usr/local/share/ca-certificates/wstap.crt",
		"sudo update-ca-certificates",
		// And back.
		"Removing it again",
		"sudo rm /usr/local/share/ca-certificates/wstap.crt",
		"sudo update-ca-certificates --fresh",
		"certutil -d sql:$HOME/.pki/nssdb -D -n wstap",
		"Delete or Distrust",
		"unset NODE_EXTRA_CA_CERTS SSL_CERT_FILE REQUESTS_CA_BUNDLE",
		"rm " + cert + " " + key,
	} {
		if !strings.Contains(joined(out), want) {
			t.Errorf("instructions lack %q", want)
		}
	}
	// A path is never broken, so the width is checked as it would be for
	// a path of a usual length.
	usual := "/home/alice/.config/wstap/ca.pem"
	for i, line := range strings.Split(out, "\n") {
		width := len(line)
		for _, path := range []string{cert, key} {
			if strings.Contains(line, path) {
				width += strings.Count(line, path) * (len(usual) - len(path))
			}
		}
		if width > instructionsWidth {
			t.Errorf("line %d is %d columns wide with a usual path: %q", i+1, width, line)
		}
	}
	if t.Failed() {
		t.Log("\n" + out)
	}
}

// TestWriteInstructionsQuotes puts the CA in a directory whose name a shell
// would split or interpret, as macOS's "Application Support" is.
func TestWriteInstructionsQuotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Application Support", "it's $HOME")
	ca := mustLoad(t, dir)
	out := joined(instructions(t, ca))
	quoted := shellQuote(ca.CertFile())
	if quoted == ca.CertFile() {
		t.Fatalf("%q not quoted", ca.CertFile())
	}
	if !strings.Contains(out, "curl --cacert "+quoted+" ") || !strings.Contains(out, "NODE_EXTRA_CA_CERTS="+quoted) {
		t.Errorf("commands do not use the quoted path %s:\n%s", quoted, out)
	}
	// JSON, not shell, in the policy.
	if !strings.Contains(out, `"Install": ["`+ca.CertFile()+`"]`) {
		t.Errorf("policy does not hold the path as a JSON string:\n%s", out)
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"/home/alice/.config/wstap/ca.pem", "/Users/a/Library/Application Support/wstap/ca.pem",
		"it's", `a"b`, "$HOME", "`x`", "a\\b", "*", "", "~/x", "a;b", "tab\there",
	} {
		q := shellQuote(s)
		if s == "/home/alice/.config/wstap/ca.pem" && q != s {
			t.Errorf("shellQuote(%q) = %q, want it unchanged", s, q)
		}
		sh, err := exec.LookPath("sh")
		if err != nil {
			continue
		}
		got, err := exec.Command(sh, "-c", "printf %s "+q).Output()
		if err != nil {
			t.Errorf("sh -c 'printf %%s %s': %v", q, err)
			continue
		}
		if string(got) != s {
			t.Errorf("shellQuote(%q) = %s, which sh reads as %q", s, q, got)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteInstructionsError(t *testing.T) {
	ca := mustLoad(t, newDir(t))
	if err := ca.WriteInstructions(failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteInstructions to a failing writer: %v", err)
	}
}
