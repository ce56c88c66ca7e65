// Package ca is the certificate authority of wstap's TLS-intercepting
// proxy.
//
// The CA is made on first use and kept in the user's config directory, as
// mitmproxy keeps its own in ~/.mitmproxy: ca.pem (the certificate, for
// clients to trust) and ca.key (its private key, readable only by the
// user). The proxy then presents, for each host a client asks for, a leaf
// certificate signed by that CA, made on demand and cached per host.
//
// Whoever holds ca.key can read and change the TLS traffic of every program
// that trusts ca.pem, so Load is strict: it refuses a key file others could
// read, a directory others could write, a certificate that does not belong
// to the key and any file it cannot parse, naming the file and what is
// wrong. It never overwrites or "fixes" an existing file: the user decides.
//
// The files by concern: ca.go loads or makes the CA, files.go reads and
// writes its files, leaf.go makes and caches the leaf certificates, and
// instructions.go writes what `wstap ca` prints.
package ca

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

const (
	// CertFileName and KeyFileName are the names of the CA's files in its
	// directory.
	CertFileName = "ca.pem"
	KeyFileName  = "ca.key"

	// configDirEnv overrides the directory Dir returns: tests use it, and
	// so do users who keep several CAs (one per project, say).
	configDirEnv = "WSTAP_CONFIG_DIR"

	// configDirName is the directory in os.UserConfigDir that holds the CA.
	configDirName = "wstap"

	// caValidity is how long a new CA lasts: long enough that users do not
	// have to trust a new one every year (mitmproxy uses ten years too),
	// short enough that a forgotten CA does not stay valid for ever.
	caValidity = 10 * 365 * 24 * time.Hour

	// backdate is how far in the past certificates start: a client whose
	// clock is behind ours (a VM resumed from suspend, a phone without
	// network time) would otherwise see a certificate that is "not yet
	// valid".
	backdate = 24 * time.Hour

	// serialBits is the size of the random serial numbers. RFC 5280
	// 4.1.2.2 allows up to 20 octets; the CA/Browser Forum Baseline
	// Requirements (7.1) ask for at least 64 bits from a CSPRNG. 128 bits
	// makes collisions between two certificates of one CA impossible in
	// practice without a counter that would have to be stored.
	serialBits = 128

	// maxCommonNameLen is ub-common-name from RFC 5280 Appendix A (and
	// ub-organizational-unit-name is the same): some verifiers, OpenSSL
	// among them, refuse a longer attribute.
	maxCommonNameLen = 64
)

// CA is a loaded certificate authority. It is safe for concurrent use.
type CA struct {
	dir      string
	certFile string
	keyFile  string

	cert   *x509.Certificate
	signer crypto.Signer
	spki   string // base64(SHA-256(SubjectPublicKeyInfo))

	// leafKey is the one key of every leaf this CA makes while loaded, as
	// mitmproxy does: a P-256 key takes a few tens of microseconds to
	// make but a fresh key per host buys nothing here, since whoever could
	// steal it from this process could steal the CA key as well.
	leafKey   *ecdsa.PrivateKey
	leafKeyID []byte

	now func() time.Time // time.Now, or a test's clock

	mu        sync.Mutex
	leaves    map[string]*leafEntry
	lru       *list.List // of *leafEntry, most recently used first
	maxLeaves int

	// generated, when set (by tests), is called each time a leaf is made.
	generated func(host string)
}

// Dir returns the directory that holds the CA by default: $WSTAP_CONFIG_DIR
// when set, else os.UserConfigDir()/wstap (~/.config/wstap on Linux,
// ~/Library/Application Support/wstap on macOS, %AppData%\wstap on
// Windows). The path is absolute.
func Dir() (string, error) {
	if d := os.Getenv(configDirEnv); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return "", fmt.Errorf("finding the CA directory from %s=%q: %w", configDirEnv, d, err)
		}
		return abs, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the CA directory (set %s to choose one): %w", configDirEnv, err)
	}
	return filepath.Join(base, configDirName), nil
}

// loadOptions are the knobs tests turn; Load uses the zero value.
type loadOptions struct {
	now       func() time.Time // default time.Now
	maxLeaves int              // default maxCachedLeaves
	raceWait  time.Duration    // default createRaceWait
}

// Load returns the CA kept in dir, making it first when dir holds none.
//
// A missing dir is created with mode 0700; the key is written with mode
// 0600 and the certificate with 0644, each to a temporary file that is
// then linked into place, so that a crash never leaves half a file and two
// wstap processes starting at once agree on one CA. Load refuses, with an
// error naming the file and what is wrong with it, a directory others can
// write to, a key file others can read, a certificate that does not belong
// to the key, one that is not a CA or has expired, and a file it cannot
// parse. It never overwrites, removes or changes the mode of an existing
// file.
func Load(dir string) (*CA, error) {
	return load(dir, loadOptions{})
}

func load(dir string, o loadOptions) (*CA, error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.maxLeaves <= 0 {
		o.maxLeaves = maxCachedLeaves
	}
	if o.raceWait <= 0 {
		o.raceWait = createRaceWait
	}
	if dir == "" {
		return nil, errors.New("loading the CA: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("loading the CA from %s: %w", dir, err)
	}
	dir = abs
	if err := prepareDir(dir); err != nil {
		return nil, fmt.Errorf("loading the CA from %s: %w", dir, err)
	}
	certFile := filepath.Join(dir, CertFileName)
	keyFile := filepath.Join(dir, KeyFileName)

	cert, signer, err := loadOrCreate(certFile, keyFile, o)
	if err != nil {
		return nil, fmt.Errorf("loading the CA from %s: %w", dir, err)
	}
	if err := checkCA(certFile, cert, o.now()); err != nil {
		return nil, fmt.Errorf("loading the CA from %s: %w", dir, err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("loading the CA from %s: making the leaf key: %w", dir, err)
	}
	leafKeyID, err := keyID(&leafKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("loading the CA from %s: %w", dir, err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	ca := &CA{
		dir:       dir,
		certFile:  certFile,
		keyFile:   keyFile,
		cert:      cert,
		signer:    signer,
		spki:      base64.StdEncoding.EncodeToString(sum[:]),
		leafKey:   leafKey,
		leafKeyID: leafKeyID,
		now:       o.now,
		leaves:    make(map[string]*leafEntry),
		lru:       list.New(),
		maxLeaves: o.maxLeaves,
	}
	return ca, nil
}

// Dir returns the directory holding the CA's files.
func (ca *CA) Dir() string { return ca.dir }

// CertFile returns the path of the CA certificate (PEM), the file clients
// are told to trust.
func (ca *CA) CertFile() string { return ca.certFile }

// KeyFile returns the path of the CA's private key (PKCS #8 PEM).
func (ca *CA) KeyFile() string { return ca.keyFile }

// Certificate returns the CA certificate. The caller must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// SPKIHash returns the base64 SHA-256 hash of the CA's SubjectPublicKeyInfo,
// the form Chromium's --ignore-certificate-errors-spki-list takes (and HPKP
// pins took, RFC 7469 2.4). It depends on the key only, so it stays the
// same if the certificate is ever re-issued for the same key.
func (ca *CA) SPKIHash() string { return ca.spki }

// Fingerprint returns the SHA-256 fingerprint of the CA certificate as
// colon-separated upper-case hex, the form browsers and `openssl x509
// -fingerprint -sha256` show.
func (ca *CA) Fingerprint() string {
	sum := sha256.Sum256(ca.cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// newCA makes a CA key and its self-signed certificate.
func newCA(now time.Time) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("making the CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	ski, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	owner := ownerName()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The owner in the name tells two installs apart in a trust store
		// listing (Firefox groups them by organization, then common name);
		// the serialNumber attribute (X.520, "to distinguish entities with
		// the same name") holds a part of the key id, telling apart two
		// CAs of one user on one machine (WSTAP_CONFIG_DIR).
		Subject: pkix.Name{
			Organization:       []string{"wstap"},
			OrganizationalUnit: []string{commonName("", owner, "")},
			CommonName:         commonName("wstap interception CA (", owner, ")"),
			SerialNumber:       fmt.Sprintf("%x", ski[:8]),
		},
		NotBefore: now.Add(-backdate),
		NotAfter:  now.Add(caValidity),
		// RFC 5280 4.2.1.9: cA set, and a path length of 0 because this CA
		// signs leaves only, never another CA: a leaked leaf key cannot be
		// used to mint certificates.
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		// RFC 5280 4.2.1.3: a CA's key signs certificates (and CRLs).
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		// RFC 5280 4.2.1.2: CA certificates must carry a key identifier;
		// the leaves name it in their authority key identifier.
		SubjectKeyId: ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	return key, der, nil
}

// checkCA refuses a certificate that cannot serve as wstap's CA now.
func checkCA(certFile string, cert *x509.Certificate, now time.Time) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return fmt.Errorf("%s is not a CA certificate (its basic constraints do not say cA; RFC 5280 4.2.1.9)", certFile)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%s may not sign certificates (its key usage lacks keyCertSign; RFC 5280 4.2.1.3)", certFile)
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%s expired on %s: move %s and %s away to make a new CA (and trust the new one)",
			certFile, cert.NotAfter.UTC().Format(time.DateOnly), CertFileName, KeyFileName)
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%s is not valid before %s (is the clock right? it says %s)",
			certFile, cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// randomSerial returns a positive random serial number of serialBits bits.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), serialBits)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("making a serial number: %w", err)
		}
		// RFC 5280 4.1.2.2: the serial must be positive.
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// keyID returns the key identifier of an ECDSA public key by RFC 5280
// 4.2.1.2 method (1): the SHA-1 hash of the subjectPublicKey bit string,
// which for an EC key is the uncompressed point. SHA-1 here is an
// identifier, not a signature, as the RFC intends.
func keyID(pub *ecdsa.PublicKey) ([]byte, error) {
	k, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("computing a key identifier: %w", err)
	}
	sum := sha1.Sum(k.Bytes())
	return sum[:], nil
}

// ownerName returns "user@host" for the CA's name, with stand-ins for what
// the system does not say.
func ownerName() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = os.Getenv("USERNAME")
	}
	if name == "" {
		name = "unknown"
	}
	// A Windows user name is DOMAIN\user: the domain is noise here.
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

// commonName joins prefix, middle and suffix, cutting the middle so that
// the whole fits maxCommonNameLen bytes without splitting a UTF-8 sequence.
func commonName(prefix, middle, suffix string) string {
	room := maxCommonNameLen - len(prefix) - len(suffix)
	if len(middle) > room {
		cut := room
		for cut > 0 && !isRuneStart(middle[cut]) {
			cut--
		}
		middle = middle[:cut]
	}
	return prefix + middle + suffix
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
