package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

const (
	// dirMode, keyMode and certMode are the modes of what Load creates: the
	// key is the user's alone; the certificate is public by nature (it is
	// what clients are given to trust).
	dirMode  fs.FileMode = 0o700
	keyMode  fs.FileMode = 0o600
	certMode fs.FileMode = 0o644

	// maxFileSize bounds what is read of ca.pem and ca.key: a certificate
	// or a key is a few kilobytes, so a larger file is not one of ours and
	// is refused rather than read whole.
	maxFileSize = 1 << 20

	// createRaceWait is how long Load waits for ca.pem to appear beside a
	// ca.key that has none. Load puts the key in place first and the
	// certificate a moment later (both are written out already), so
	// another wstap starting at the same instant can see the key alone;
	// a key alone for longer than this was left by a crash between the
	// two steps, and is reported.
	createRaceWait = time.Second

	// createPoll is how often Load looks again while waiting.
	createPoll = 10 * time.Millisecond

	// maxAttempts bounds how often Load tries again after another process
	// made the CA first: once should do, unless something keeps removing
	// the files, which is reported rather than fought.
	maxAttempts = 3
)

// checkModes says whether file modes mean anything here: on Windows Go
// reports made-up modes (access is governed by ACLs), so they are not
// checked there.
const checkModes = runtime.GOOS != "windows"

// errLost says another process put a file in place first.
var errLost = errors.New("another process made the CA first, and its files changed again before they could be read")

// prepareDir creates dir (mode 0700) when missing and refuses one that
// others can write to: whoever can write there can swap the CA's files.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("creating the directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("looking at the directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if checkModes && info.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by others (mode %04o): anyone who can write there could replace the CA; "+
			"wstap changes nothing itself: run chmod 700 %s, or choose another directory with %s",
			dir, info.Mode().Perm(), dir, configDirEnv)
	}
	return nil
}

// loadOrCreate reads the CA's files, or makes them when neither exists.
func loadOrCreate(certFile, keyFile string, o loadOptions) (*x509.Certificate, crypto.Signer, error) {
	var keyAloneSince time.Time
	for attempt := 1; ; attempt++ {
		certThere, err := exists(certFile)
		if err != nil {
			return nil, nil, err
		}
		keyThere, err := exists(keyFile)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case certThere && keyThere:
			return readCA(certFile, keyFile)
		case !certThere && !keyThere:
			cert, key, err := create(certFile, keyFile, o.now())
			if errors.Is(err, errLost) && attempt < maxAttempts {
				continue // load the one the other process made
			}
			return cert, key, err
		case keyThere:
			if keyAloneSince.IsZero() {
				keyAloneSince = time.Now()
			}
			if time.Since(keyAloneSince) < o.raceWait {
				time.Sleep(createPoll)
				continue
			}
			return nil, nil, fmt.Errorf("%s exists but %s does not (was wstap stopped while making the CA, "+
				"or was the certificate removed?): remove %s to make a new CA, or put its certificate back",
				keyFile, certFile, keyFile)
		default:
			return nil, nil, fmt.Errorf("%s exists but %s does not: wstap will not make a new key "+
				"beside an existing certificate; put the key back, or remove %s to make a new CA",
				certFile, keyFile, certFile)
		}
	}
}

// exists says whether path exists; it follows symbolic links, so that a
// user may keep the files elsewhere and link them here.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("looking at %s: %w", path, err)
}

// create makes a new CA and puts its files in place, key first. Each file
// is written whole to a temporary file and synced before it is linked to
// its name: a crash leaves either no file or the whole one, and, unlike a
// rename, a link fails when the name exists, so a CA another process made
// in the meantime is never replaced (create returns errLost instead).
func create(certFile, keyFile string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, der, err := newCA(now)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing the new CA certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the new CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	dir := filepath.Dir(keyFile)
	tmpKey, err := writeTemp(dir, KeyFileName, keyPEM, keyMode)
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(tmpKey)
	tmpCert, err := writeTemp(dir, CertFileName, certPEM, certMode)
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(tmpCert)

	for _, f := range []struct{ tmp, name string }{{tmpKey, keyFile}, {tmpCert, certFile}} {
		if err := os.Link(f.tmp, f.name); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, nil, errLost
			}
			return nil, nil, fmt.Errorf("putting %s in place (the directory's file system must allow hard links; "+
				"%s chooses another directory): %w", f.name, configDirEnv, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// writeTemp writes data to a new temporary file in dir with the given mode,
// synced to disk, and returns its name.
func writeTemp(dir, name string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	tmp := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	// CreateTemp makes the file 0600 less the umask; set the mode exactly,
	// before a byte of the key is written.
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	return tmp, nil
}

// syncDir makes the new names in dir durable, so that a crash right after
// Load returned does not lose a CA the user may already have been told to
// trust.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// readCA reads and checks the CA's existing files.
func readCA(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	keyPEM, err := readFile(keyFile, func(mode fs.FileMode) error {
		if mode&0o077 != 0 {
			return fmt.Errorf("%s is open to others (mode %04o): the CA's private key must be readable by you only, "+
				"since whoever reads it can intercept the TLS traffic of every program that trusts the CA; "+
				"wstap changes nothing itself: run chmod 600 %s (and consider making a new CA if others did read it)",
				keyFile, mode, keyFile)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	certPEM, err := readFile(certFile, func(mode fs.FileMode) error {
		if mode&0o022 != 0 {
			return fmt.Errorf("%s is writable by others (mode %04o): anyone could replace the CA certificate; "+
				"run chmod 644 %s", certFile, mode, certFile)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	key, err := parseKey(keyFile, keyPEM)
	if err != nil {
		return nil, nil, err
	}
	cert, err := parseCert(certFile, certPEM)
	if err != nil {
		return nil, nil, err
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, nil, fmt.Errorf("%s does not belong to %s: the certificate's public key is not the key's "+
			"(files of two different CAs mixed up?); put the matching pair back, or move both away to make a new CA",
			certFile, keyFile)
	}
	return cert, key, nil
}

// readFile reads a regular file of at most maxFileSize bytes after
// checkMode approved its permission bits.
func readFile(path string, checkMode func(fs.FileMode) error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("looking at %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if checkModes {
		if err := checkMode(info.Mode().Perm()); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a certificate or key wstap made", path, maxFileSize)
	}
	return data, nil
}

// parseKey returns the private key in a PEM file: PKCS #8 ("PRIVATE KEY",
// what wstap writes) or, for a CA the user brings, SEC 1 ("EC PRIVATE
// KEY") or PKCS #1 ("RSA PRIVATE KEY").
func parseKey(keyFile string, data []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty", keyFile)
	}
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s holds no complete PEM private key block (corrupt, cut short or not PEM)", keyFile)
		}
		rest = r
		if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("%s is encrypted with a passphrase: wstap needs the key unencrypted "+
				"(openssl pkey -in %s -out KEYFILE writes it so; keep the mode 0600)", keyFile, keyFile)
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "EC PARAMETERS":
			continue // openssl ecparam -genkey writes these before the key
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("%s holds a %q PEM block where a private key was expected", keyFile, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: the private key does not parse (corrupt?): %w", keyFile, err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("%s holds a %T, which cannot sign certificates", keyFile, key)
		}
	}
}

// parseCert returns the first certificate in a PEM file.
func parseCert(certFile string, data []byte) (*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty", certFile)
	}
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s holds no complete PEM CERTIFICATE block (corrupt, cut short or not PEM)", certFile)
		}
		rest = r
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: the certificate does not parse (corrupt?): %w", certFile, err)
		}
		return cert, nil
	}
}
