package ca

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

const (
	// instructionsWidth is the terminal width WriteInstructions keeps to:
	// commands longer than that are broken with a backslash, where a shell
	// takes them back as one line.
	instructionsWidth = 80

	// proxyHost and proxyPort are where the commands send traffic: the
	// default --listen of `wstap proxy`.
	proxyHost = "127.0.0.1"
	proxyPort = "8080"
	proxyAddr = proxyHost + ":" + proxyPort

	// indent is the indent of a command, and continuation is what is
	// added for the second and later lines of a broken one.
	indent       = "  "
	continuation = "    "
)

// WriteInstructions writes what `wstap ca` prints: where the CA's files
// are, how to recognise the certificate (its SHA-256 fingerprint and SPKI
// hash), and the commands that make curl, Node, Go programs, Python,
// Chromium, Firefox and the Debian/Ubuntu system store trust it, and undo
// that again. Paths are quoted for a POSIX shell where needed (macOS's
// config directory has a space in it).
func (ca *CA) WriteInstructions(w io.Writer) error {
	p := &printer{}
	cert := shellQuote(ca.certFile)
	proxyURL := "http://" + proxyAddr
	fp := ca.Fingerprint()
	half := len(fp) / 2 // 16 bytes a line; the colon at half is dropped
	policyPath, _ := json.Marshal(ca.certFile)

	p.text("wstap's interception CA")
	p.text("")
	p.text("  certificate  %s", ca.certFile)
	p.text("  private key  %s", ca.keyFile)
	p.text("  subject      %s", ca.cert.Subject.CommonName)
	p.text("  valid        %s to %s", ca.cert.NotBefore.UTC().Format(time.DateOnly),
		ca.cert.NotAfter.UTC().Format(time.DateOnly))
	p.text("  SHA-256      %s", fp[:half])
	p.text("               %s", fp[half+1:])
	p.text("  SPKI hash    %s", ca.spki)
	p.text("")
	p.text("Whoever has %s can read and change the TLS traffic of every program", KeyFileName)
	p.text("that trusts this CA: trust it only where you need it, remove it when done")
	p.text("(see the end), and never share %s. The commands send traffic to", KeyFileName)
	p.text("%s, where `wstap proxy` listens by default.", proxyAddr)
	p.text("")

	p.text("curl")
	p.cmd("curl", "--cacert "+cert, "--proxy "+proxyURL, "https://example.com/")
	p.text("")

	p.text("Node.js: NODE_EXTRA_CA_CERTS adds the CA to Node's own roots (read at start)")
	p.cmd("NODE_EXTRA_CA_CERTS="+cert, "node app.js")
	p.text("")

	p.text("Go programs: SSL_CERT_FILE replaces the system roots (on Linux and BSD; on")
	p.text("macOS and Windows Go asks the system's store), so give it a bundle of both:")
	p.cmd("cat /etc/ssl/certs/ca-certificates.crt", cert, "> bundle.pem")
	p.cmd("SSL_CERT_FILE=bundle.pem", "HTTPS_PROXY="+proxyURL, "./program")
	p.text("Go sends no request for localhost or a loopback address through a proxy.")
	p.text("")

	p.text("Python: REQUESTS_CA_BUNDLE (requests) and SSL_CERT_FILE (the ssl module:")
	p.text("websockets, aiohttp, urllib) take the place of the default roots as well,")
	p.text("so give them bundle.pem from above:")
	p.cmd("REQUESTS_CA_BUNDLE=bundle.pem", "HTTPS_PROXY="+proxyURL, "python3 app.py")
	p.cmd("SSL_CERT_FILE=bundle.pem", "python3 app.py")
	p.text("")

	p.text("Chromium and Chrome, for one run: accept this CA's key by its SPKI hash.")
	p.text("The flag is honoured only with --user-data-dir, and skips every check,")
	p.text("host names included, for a server that presents this CA:")
	p.cmd("SPKI=" + ca.spki)
	p.cmd("chromium", "--proxy-server="+proxyURL, `--ignore-certificate-errors-spki-list="$SPKI"`,
		`--user-data-dir="$(mktemp -d)"`)
	p.text("or for good: the NSS database of your profile (certutil is in the package")
	p.text("libnss3-tools; restart the browser afterwards):")
	p.cmd("certutil", "-d sql:$HOME/.pki/nssdb", "-A", `-t "C,,"`, "-n wstap", "-i "+cert)
	p.text("")

	p.text("Firefox has a store of its own:")
	p.text("  Settings > Privacy & Security > Certificates > View Certificates >")
	p.text("  Authorities > Import..., choose %s, tick \"Trust this CA to identify", CertFileName)
	p.text("  websites\"")
	p.text("or, with Firefox closed, certutil on the cert9.db in the profile's directory")
	p.text("(about:profiles shows it):")
	p.cmd("certutil", "-d sql:PROFILE_DIR", "-A", `-t "C,,"`, "-n wstap", "-i "+cert)
	p.text("or an enterprise policy, in /etc/firefox/policies/policies.json:")
	p.text(`%s{"policies": {"Certificates": {`, indent)
	p.text(`%s%s"Install": [%s]}}}`, indent, indent, policyPath)
	p.text("Its proxy: Settings > Network Settings > Manual proxy configuration, HTTP")
	p.text("Proxy %s, Port %s, \"Also use this proxy for HTTPS\".", proxyHost, proxyPort)
	p.text("")

	p.text("Debian and Ubuntu system store (curl, wget, Go, Python's ssl, programs")
	p.text("linked to OpenSSL or GnuTLS; not Node, Firefox or Chromium, see above):")
	p.cmd("sudo cp", cert, "/usr/local/share/ca-certificates/wstap.crt")
	p.cmd("sudo update-ca-certificates")
	p.text("")

	p.text("Removing it again")
	p.text("  from the system store:")
	p.cmdAt(indent+indent, "sudo rm /usr/local/share/ca-certificates/wstap.crt")
	p.cmdAt(indent+indent, "sudo update-ca-certificates --fresh")
	p.text("  from an NSS database (Chromium's; Firefox's with -d sql:PROFILE_DIR):")
	p.cmdAt(indent+indent, "certutil", "-d sql:$HOME/.pki/nssdb", "-D", "-n wstap")
	p.text("  from Firefox: take the file out of a policy's \"Install\" list, then")
	p.text("    View Certificates > Authorities > wstap > Delete or Distrust")
	p.text("  from the environment:")
	p.cmdAt(indent+indent, "unset NODE_EXTRA_CA_CERTS SSL_CERT_FILE REQUESTS_CA_BUNDLE")
	p.text("  the CA itself (wstap makes a new one when next needed, to be trusted anew):")
	p.cmdAt(indent+indent, "rm", shellQuote(ca.certFile), shellQuote(ca.keyFile))

	_, err := io.WriteString(w, p.b.String())
	if err != nil {
		return fmt.Errorf("writing the CA instructions: %w", err)
	}
	return nil
}

// printer builds the instructions a line at a time.
type printer struct {
	b strings.Builder
}

// text writes a line of prose (wrapped by hand in the source).
func (p *printer) text(format string, args ...any) {
	fmt.Fprintf(&p.b, format, args...)
	p.b.WriteByte('\n')
}

// cmd writes a shell command, indented.
func (p *printer) cmd(parts ...string) { p.cmdAt(indent, parts...) }

// cmdAt writes a shell command after the indent at. The parts are joined
// with spaces and never split themselves; when the next part would pass
// instructionsWidth, the line ends in " \" and the command goes on on the
// next one, indented further.
func (p *printer) cmdAt(at string, parts ...string) {
	line := at + parts[0]
	for _, part := range parts[1:] {
		if len(line)+1+len(part)+len(" \\") > instructionsWidth {
			p.b.WriteString(line + " \\\n")
			line = at + continuation + part
			continue
		}
		line += " " + part
	}
	p.b.WriteString(line + "\n")
}

// shellQuote returns s as one word for a POSIX shell: as it is when it
// holds nothing the shell would interpret, else in single quotes.
func shellQuote(s string) string {
	safe := s != ""
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("@%+=:,./_-", c) >= 0
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
