package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/internal/testpeer"
)

// requirePeer skips the test when program is not installed, or fails it
// in CI (testpeer.Require).
func requirePeer(t testing.TB, program string) string {
	t.Helper()
	return testpeer.Require(t, program)
}

// newDir returns a directory for a CA that does not exist yet, inside a
// test's temporary directory (so that Load has to create it).
func newDir(t testing.TB) string {
	return filepath.Join(t.TempDir(), "config", "wstap")
}

func mustLoad(t testing.TB, dir string) *CA {
	t.Helper()
	ca, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return ca
}

func skipModes(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not checked on Windows")
	}
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// names lists what dir holds.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestLoadMakesCA(t *testing.T) {
	dir := newDir(t)
	start := time.Now()
	ca := mustLoad(t, dir)

	if got := names(t, dir); strings.Join(got, " ") != "ca.key ca.pem" {
		t.Errorf("directory holds %q, want only ca.key and ca.pem (no temporary files)", got)
	}
	if ca.CertFile() != filepath.Join(dir, "ca.pem") || ca.KeyFile() != filepath.Join(dir, "ca.key") {
		t.Errorf("files %s, %s", ca.CertFile(), ca.KeyFile())
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]fs.FileMode{dir: 0o700, ca.KeyFile(): 0o600, ca.CertFile(): 0o644} {
			if got := mode(t, path); got != want {
				t.Errorf("%s has mode %04o, want %04o", path, got, want)
			}
		}
	}

	cert := ca.Certificate()
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.MaxPathLen != 0 || !cert.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA %v valid %v MaxPathLen %d zero %v, want a CA with path length 0",
			cert.IsCA, cert.BasicConstraintsValid, cert.MaxPathLen, cert.MaxPathLenZero)
	}
	if cert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage %b, want CertSign|CRLSign", cert.KeyUsage)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	if cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm %v", cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		t.Errorf("the CA certificate is not self-signed: %v", err)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v: want positive, at most 128 bits", cert.SerialNumber)
	}
	if cert.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v has %d bits: too few to be random", cert.SerialNumber, cert.SerialNumber.BitLen())
	}
	if len(cert.SubjectKeyId) == 0 {
		t.Error("no subject key identifier (RFC 5280 4.2.1.2)")
	}
	if d := start.Add(-24 * time.Hour).Sub(cert.NotBefore); d < -time.Minute || d > time.Minute {
		t.Errorf("NotBefore %v, want a day before %v", cert.NotBefore, start)
	}
	years := cert.NotAfter.Sub(cert.NotBefore).Hours() / 24 / 365
	if years < 9.9 || years > 10.1 {
		t.Errorf("valid for %.2f years, want about 10", years)
	}
	cn := cert.Subject.CommonName
	if !strings.HasPrefix(cn, "wstap interception CA (") || !strings.Contains(cn, "@") || len(cn) > 64 {
		t.Errorf("common name %q: want wstap's name and user@host, at most 64 bytes", cn)
	}
	if len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "wstap" {
		t.Errorf("organization %q", cert.Subject.Organization)
	}

	// The key file: PKCS #8 PEM, the certificate's key.
	block, _ := pem.Decode(readAll(t, ca.KeyFile()))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("ca.key is not a PKCS #8 PEM block: %v", block)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.(*ecdsa.PrivateKey).PublicKey.Equal(cert.PublicKey) {
		t.Error("ca.key does not hold the certificate's key")
	}
	if hash := ca.SPKIHash(); len(hash) != 44 || !strings.HasSuffix(hash, "=") {
		t.Errorf("SPKI hash %q: want 44 base64 characters", hash)
	}
}

func TestLoadAgainSameCA(t *testing.T) {
	dir := newDir(t)
	first := mustLoad(t, dir)
	certPEM, keyPEM := readAll(t, first.CertFile()), readAll(t, first.KeyFile())
	second := mustLoad(t, dir)
	if first.SPKIHash() != second.SPKIHash() || first.Fingerprint() != second.Fingerprint() {
		t.Errorf("second load: SPKI %s fingerprint %s, first %s %s",
			second.SPKIHash(), second.Fingerprint(), first.SPKIHash(), first.Fingerprint())
	}
	if !bytes.Equal(certPEM, readAll(t, first.CertFile())) || !bytes.Equal(keyPEM, readAll(t, first.KeyFile())) {
		t.Error("the second load changed the files")
	}
	// A leaf of the second load verifies against the first's certificate.
	leaf, err := second.Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	verifyLeaf(t, first, leaf, "example.com")
}

// TestLoadConcurrent starts several loads on an empty directory at once:
// all must end with one and the same CA.
func TestLoadConcurrent(t *testing.T) {
	dir := newDir(t)
	const n = 8
	cas := make([]*CA, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			cas[i], errs[i] = Load(dir)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("load %d: %v", i, errs[i])
		}
		if cas[i].SPKIHash() != cas[0].SPKIHash() {
			t.Errorf("load %d got CA %s, load 0 got %s", i, cas[i].SPKIHash(), cas[0].SPKIHash())
		}
	}
	if got := names(t, dir); strings.Join(got, " ") != "ca.key ca.pem" {
		t.Errorf("directory holds %q, want only ca.key and ca.pem", got)
	}
	if onDisk := mustLoad(t, dir); onDisk.SPKIHash() != cas[0].SPKIHash() {
		t.Error("the CA on disk is not the one the loads returned")
	}
}

func TestDir(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		t.Chdir(t.TempDir())
		t.Setenv("WSTAP_CONFIG_DIR", "some/where")
		got, err := Dir()
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := os.Getwd()
		if want := filepath.Join(wd, "some", "where"); got != want {
			t.Errorf("Dir() = %q, want %q (made absolute)", got, want)
		}
	})
	t.Run("default", func(t *testing.T) {
		t.Setenv("WSTAP_CONFIG_DIR", "")
		base, err := os.UserConfigDir()
		if err != nil {
			t.Skip("no user config directory here:", err)
		}
		got, err := Dir()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(base, "wstap"); got != want {
			t.Errorf("Dir() = %q, want %q", got, want)
		}
	})
}

// refused checks that err names every one of want.
func refused(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded, want an error mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestLoadRefusesOpenModes(t *testing.T) {
	skipModes(t)
	for _, tc := range []struct {
		name string
		file string // relative to the CA's directory; "" is the directory
		mode fs.FileMode
		want []string
	}{
		{"key readable by all", "ca.key", 0o644, []string{"ca.key", "0644", "chmod 600"}},
		{"key readable by group", "ca.key", 0o640, []string{"ca.key", "0640", "chmod 600"}},
		{"key writable by group", "ca.key", 0o620, []string{"ca.key", "0620"}},
		{"cert writable by all", "ca.pem", 0o666, []string{"ca.pem", "0666", "writable by others"}},
		{"dir writable by all", "", 0o777, []string{"0777", "writable by others", "chmod 700"}},
		{"dir writable by group", "", 0o770, []string{"0770", "writable by others"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDir(t)
			mustLoad(t, dir)
			path := filepath.Join(dir, tc.file)
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			refused(t, err, append(tc.want, path)...)
			if got := mode(t, path); got != tc.mode {
				t.Errorf("Load changed the mode of %s to %04o", path, got)
			}
		})
	}
}

// writeFile replaces a file of a CA made by a test, keeping the mode.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestLoadRefusesBadFiles(t *testing.T) {
	other := mustLoad(t, newDir(t))
	otherCert := readAll(t, other.CertFile())

	for _, tc := range []struct {
		name   string
		file   string                        // the file changed: ca.pem or ca.key
		change func(ca *CA, b []byte) []byte // its new content from the old
		want   []string
	}{
		{"cert of another CA", "ca.pem", func(*CA, []byte) []byte { return otherCert },
			[]string{"does not belong to", "ca.key"}},
		{"cert garbage", "ca.pem", func(*CA, []byte) []byte { return []byte("not a certificate\n") },
			[]string{"no complete PEM CERTIFICATE block"}},
		{"cert cut short", "ca.pem", func(_ *CA, b []byte) []byte { return b[:len(b)/2] },
			[]string{"no complete PEM CERTIFICATE block"}},
		{"cert empty", "ca.pem", func(*CA, []byte) []byte { return nil }, []string{"is empty"}},
		{"cert body corrupt", "ca.pem", func(_ *CA, b []byte) []byte {
			block, _ := pem.Decode(b)
			return pemOf("CERTIFICATE", block.Bytes[:len(block.Bytes)-20])
		}, []string{"does not parse"}},
		{"cert not a CA", "ca.pem", func(ca *CA, _ []byte) []byte {
			tmpl := &x509.Certificate{SerialNumber: ca.cert.SerialNumber, Subject: pkix.Name{CommonName: "x"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ca.signer.Public(), ca.signer)
			if err != nil {
				t.Fatal(err)
			}
			return pemOf("CERTIFICATE", der)
		}, []string{"not a CA certificate"}},
		{"key garbage", "ca.key", func(*CA, []byte) []byte { return []byte("garbage") },
			[]string{"no complete PEM private key block"}},
		{"key cut short", "ca.key", func(_ *CA, b []byte) []byte { return b[:len(b)-30] },
			[]string{"no complete PEM private key block"}},
		{"key empty", "ca.key", func(*CA, []byte) []byte { return []byte("\n") }, []string{"is empty"}},
		{"key body corrupt", "ca.key", func(_ *CA, b []byte) []byte {
			block, _ := pem.Decode(b)
			return pemOf("PRIVATE KEY", block.Bytes[:len(block.Bytes)-5])
		}, []string{"does not parse"}},
		{"key is a certificate", "ca.key", func(*CA, []byte) []byte { return otherCert },
			[]string{`"CERTIFICATE" PEM block where a private key was expected`}},
		{"key encrypted", "ca.key", func(*CA, []byte) []byte {
			return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
				Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}})
		}, []string{"encrypted with a passphrase"}},
		{"key too large", "ca.key", func(*CA, []byte) []byte { return bytes.Repeat([]byte("A"), maxFileSize+1) },
			[]string{"larger than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDir(t)
			ca := mustLoad(t, dir)
			path := filepath.Join(dir, tc.file)
			writeFile(t, path, tc.change(ca, readAll(t, path)))
			certBefore, keyBefore := readAll(t, ca.CertFile()), readAll(t, ca.KeyFile())

			_, err := Load(dir)
			refused(t, err, append(tc.want, path)...)
			if !bytes.Equal(certBefore, readAll(t, ca.CertFile())) || !bytes.Equal(keyBefore, readAll(t, ca.KeyFile())) {
				t.Error("Load changed a file it refused")
			}
		})
	}
}

func TestLoadOneFileMissing(t *testing.T) {
	t.Run("key alone", func(t *testing.T) {
		dir := newDir(t)
		ca := mustLoad(t, dir)
		os.Remove(ca.CertFile())
		start := time.Now()
		_, err := load(dir, loadOptions{raceWait: 50 * time.Millisecond})
		refused(t, err, ca.KeyFile(), ca.CertFile(), "remove "+ca.KeyFile())
		if time.Since(start) < 50*time.Millisecond {
			t.Error("did not wait for the certificate of a CA being made")
		}
		if _, err := os.Stat(ca.CertFile()); err == nil {
			t.Error("Load wrote a certificate beside the existing key")
		}
	})
	t.Run("cert alone", func(t *testing.T) {
		dir := newDir(t)
		ca := mustLoad(t, dir)
		os.Remove(ca.KeyFile())
		_, err := Load(dir)
		refused(t, err, ca.CertFile(), ca.KeyFile(), "will not make a new key")
		if _, err := os.Stat(ca.KeyFile()); err == nil {
			t.Error("Load wrote a key beside the existing certificate")
		}
	})
	t.Run("dir is a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		os.WriteFile(path, nil, 0o600)
		_, err := Load(path)
		refused(t, err, path)
	})
}

func TestLoadExpired(t *testing.T) {
	dir := newDir(t)
	ca := mustLoad(t, dir)
	later := ca.Certificate().NotAfter.Add(time.Hour)
	_, err := load(dir, loadOptions{now: func() time.Time { return later }})
	refused(t, err, ca.CertFile(), "expired on")
	earlier := ca.Certificate().NotBefore.Add(-time.Hour)
	_, err = load(dir, loadOptions{now: func() time.Time { return earlier }})
	refused(t, err, ca.CertFile(), "not valid before", "clock")
}

// TestLoadBroughtCA loads CAs made elsewhere, with the key encodings and
// types openssl and other tools write: leaves are still ECDSA P-256,
// signed by the brought key.
func TestLoadBroughtCA(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPKCS8, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		keyPEM []byte
	}{
		// openssl ecparam -genkey writes the parameters before the key.
		{"SEC 1 P-384 with parameters", ecKey,
			append(pemOf("EC PARAMETERS", []byte{6, 5, 43, 129, 4, 0, 34}), pemOf("EC PRIVATE KEY", sec1)...)},
		{"PKCS #8 Ed25519", edKey, pemOf("PRIVATE KEY", edPKCS8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newDir(t)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: newSerial(t), Subject: pkix.Name{CommonName: "brought CA"},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "ca.pem"), pemOf("CERTIFICATE", der), 0o644)
			os.WriteFile(filepath.Join(dir, "ca.key"), tc.keyPEM, 0o600)
			ca := mustLoad(t, dir)
			leaf, err := ca.Leaf("example.com")
			if err != nil {
				t.Fatal(err)
			}
			verifyLeaf(t, ca, leaf, "example.com")
			if end := parseLeaf(t, leaf).NotAfter; !end.Equal(ca.Certificate().NotAfter) {
				t.Errorf("leaf ends %v, want its CA's end %v", end, ca.Certificate().NotAfter)
			}
		})
	}
}

func newSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCommonNameFits(t *testing.T) {
	long := strings.Repeat("é", 40) + "@" + strings.Repeat("h", 40)
	cn := commonName("wstap interception CA (", long, ")")
	if len(cn) > maxCommonNameLen || !strings.HasSuffix(cn, ")") || !utf8.ValidString(cn) {
		t.Errorf("commonName = %q (%d bytes)", cn, len(cn))
	}
	if got := commonName("a(", "b@c", ")"); got != "a(b@c)" {
		t.Errorf("short name changed: %q", got)
	}
}
