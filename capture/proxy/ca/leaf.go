package ca

import (
	"container/list"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

const (
	// maxCachedLeaves bounds the leaf cache, least recently used out: a
	// forward proxy may be asked for any number of hosts over a long run.
	// A cached leaf takes about 1.2 KB (its DER and the entry; the CA's DER
	// and the key are shared), so the cache stays near 5 MB. A browsing
	// session touches a few hundred hosts; one evicted is just made again.
	maxCachedLeaves = 4096

	// leafValidity is how long a leaf lasts, counted from its backdated
	// start. The CA/Browser Forum Baseline Requirements (6.3.2) capped
	// server certificates at 398 days in 2020, and browsers refuse longer
	// ones from public CAs; ballot SC-081 lowers the cap to 200 days from
	// 15 March 2026, 100 days from 15 March 2027 and 47 days from 15 March
	// 2029. A root the user installed is exempt today, but leaves are made
	// on demand, live in memory only and are replaced before they expire
	// (leafRenewBefore), so a short life costs nothing: wstap keeps under
	// the last and strictest step, and no client that applies those rules
	// to every root will ever refuse one.
	leafValidity = 46 * 24 * time.Hour

	// leafRenewBefore is how long before its end a cached leaf is replaced
	// by a new one, so that a proxy running for months never presents a
	// certificate about to expire in the middle of a connection.
	leafRenewBefore = 24 * time.Hour

	// maxHostLen and maxLabelLen are the limits of a DNS name (RFC 1035
	// 2.3.4, in its dotted text form without the final dot).
	maxHostLen  = 253
	maxLabelLen = 63
)

// leafEntry is one host's leaf in the cache. ready is closed once cert,
// its validity and err are set; they do not change afterwards.
type leafEntry struct {
	host                string
	ready               chan struct{}
	cert                *tls.Certificate
	notBefore, notAfter time.Time
	err                 error
	elem                *list.Element
}

// Leaf returns a certificate for host, signed by the CA, with the chain
// [leaf, CA] so that a client that trusts the CA, or allows its key by SPKI
// hash, can build the path from the handshake alone.
//
// host is a DNS name or an IP address (IPv6 with or without brackets); a
// port, a zone and a final dot are ignored and DNS names are compared
// without case. A DNS name becomes a dNSName in the subjectAltName, an IP
// address an iPAddress (RFC 5280 4.2.1.6): a client that connects to an
// address looks for it there (RFC 2818 3.1).
//
// Leaves are cached per host (up to 4096, least recently used out) and
// replaced a day before they expire. Leaf is safe for concurrent
// use: callers asking for one host at once share one generation. The
// result is shared and must not be modified. Its Leaf field is nil: the
// TLS server does not need the parsed form, which would take four times
// the memory of the DER in the cache; x509.ParseCertificate of
// Certificate[0] gives it.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	name, ip, err := normalizeHost(host)
	if err != nil {
		return nil, fmt.Errorf("making a certificate for %q: %w", host, err)
	}

	ca.mu.Lock()
	if e, ok := ca.leaves[name]; ok {
		select {
		case <-e.ready:
			if e.err == nil && ca.usable(e, ca.now()) {
				ca.lru.MoveToFront(e.elem)
				ca.mu.Unlock()
				return e.cert, nil
			}
			ca.drop(e) // expiring: make a new one below
		default:
			// Being made by another caller: wait for it rather than make a
			// second one.
			ca.lru.MoveToFront(e.elem)
			ca.mu.Unlock()
			<-e.ready
			return e.cert, e.err
		}
	}
	e := &leafEntry{host: name, ready: make(chan struct{})}
	e.elem = ca.lru.PushFront(e)
	ca.leaves[name] = e
	for ca.lru.Len() > ca.maxLeaves {
		ca.drop(ca.lru.Back().Value.(*leafEntry))
	}
	ca.mu.Unlock()

	// Made without the lock, so that other hosts are not held up by the
	// signature.
	e.cert, e.notBefore, e.notAfter, e.err = ca.makeLeaf(name, ip)
	if e.err != nil {
		// Not cached: the next call tries again.
		ca.mu.Lock()
		ca.drop(e)
		ca.mu.Unlock()
	}
	close(e.ready)
	return e.cert, e.err
}

// GetCertificate returns a function for tls.Config.GetCertificate that
// answers each ClientHello with the leaf for its server name (SNI), or for
// fallbackHost when the client sent none: clients send no SNI for an IP
// address (RFC 6066 3 forbids it), so the proxy passes the host of the
// CONNECT request.
func (ca *CA) GetCertificate(fallbackHost string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		host := hello.ServerName
		if host == "" {
			host = fallbackHost
		}
		if host == "" {
			return nil, errors.New("choosing a certificate: the client sent no server name (SNI) and no host is known")
		}
		return ca.Leaf(host)
	}
}

// drop removes e from the cache, if it is still there. The caller holds mu.
func (ca *CA) drop(e *leafEntry) {
	if ca.leaves[e.host] == e {
		delete(ca.leaves, e.host)
	}
	ca.lru.Remove(e.elem) // a no-op when already removed
}

// usable says whether a cached leaf may still be handed out at now.
func (ca *CA) usable(e *leafEntry, now time.Time) bool {
	if now.Before(e.notBefore) {
		return false // the clock went back past its start
	}
	if !e.notAfter.Before(ca.cert.NotAfter) {
		// Cut short by the CA's own end: a new leaf would not last longer.
		return now.Before(e.notAfter)
	}
	return now.Add(leafRenewBefore).Before(e.notAfter)
}

// makeLeaf makes and signs the leaf certificate for a normalized host, and
// returns it with its validity.
func (ca *CA) makeLeaf(name string, ip netip.Addr) (cert *tls.Certificate, notBefore, notAfter time.Time, err error) {
	now := ca.now()
	if !now.Before(ca.cert.NotAfter) {
		return nil, notBefore, notAfter, fmt.Errorf("making a certificate for %s: the CA %s expired on %s; move %s and %s away "+
			"to make a new CA (and trust the new one)", name, ca.certFile,
			ca.cert.NotAfter.UTC().Format(time.DateOnly), CertFileName, KeyFileName)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, notBefore, notAfter, fmt.Errorf("making a certificate for %s: %w", name, err)
	}
	// Whole seconds, as the certificate encodes them (RFC 5280 4.1.2.5).
	notBefore = now.Add(-backdate).Truncate(time.Second)
	if notBefore.Before(ca.cert.NotBefore) {
		notBefore = ca.cert.NotBefore
	}
	notAfter = notBefore.Add(leafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		// Subscriber certificates of the Baseline Requirements (7.1.2.7):
		// the key signs the handshake (ECDHE), it never encrypts, and the
		// certificate is for TLS servers only. cA is stated false.
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          ca.leafKeyID,
	}
	// The organization says, in a browser's certificate viewer, who made
	// the certificate. The common name is the host, for tools that still
	// show it, unless longer than RFC 5280 allows; clients match the
	// subjectAltName only (RFC 6125 6.4.4), and x509 marks it critical
	// when the subject has nothing else (RFC 5280 4.2.1.6).
	tmpl.Subject.Organization = []string{"wstap"}
	if len(name) <= maxCommonNameLen {
		tmpl.Subject.CommonName = name
	}
	if ip.IsValid() {
		tmpl.IPAddresses = []net.IP{ip.AsSlice()}
	} else {
		tmpl.DNSNames = []string{name}
	}
	// CreateCertificate also checks the signature with the CA's public
	// key, so a key that does not sign what it should is caught here.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leafKey.PublicKey, ca.signer)
	if err != nil {
		return nil, notBefore, notAfter, fmt.Errorf("signing the certificate for %s: %w", name, err)
	}
	if ca.generated != nil {
		ca.generated(name)
	}
	cert = &tls.Certificate{
		Certificate: [][]byte{der, ca.cert.Raw},
		PrivateKey:  ca.leafKey,
	}
	return cert, notBefore, notAfter, nil
}

// normalizeHost returns the cache key for host (the address in its
// canonical form, or the DNS name in lower case without a final dot) and,
// for an IP address, the address.
func normalizeHost(host string) (string, netip.Addr, error) {
	h := host
	if hp, _, err := net.SplitHostPort(h); err == nil {
		h = hp
	}
	if len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if h == "" {
		return "", netip.Addr{}, errors.New("no host name")
	}
	if addr, err := netip.ParseAddr(h); err == nil {
		// A zone names an interface of this machine, not the server; an
		// IPv4-mapped IPv6 address is the IPv4 address (x509 encodes it
		// in 4 bytes, and matches either form).
		addr = addr.WithZone("").Unmap()
		return addr.String(), addr, nil
	}
	h = strings.TrimSuffix(h, ".")
	if err := checkDNSName(h); err != nil {
		return "", netip.Addr{}, err
	}
	return strings.ToLower(h), netip.Addr{}, nil
}

// checkDNSName refuses what cannot be a dNSName in a certificate: RFC 5280
// 4.2.1.6 wants the preferred name syntax, in ASCII. Underscores are let
// through, since real hosts have them and clients accept them.
func checkDNSName(h string) error {
	if h == "" {
		return errors.New("no host name")
	}
	if len(h) > maxHostLen {
		return fmt.Errorf("a host name is at most %d characters (RFC 1035 2.3.4), this one has %d", maxHostLen, len(h))
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" {
			return errors.New("empty label in the host name")
		}
		if len(label) > maxLabelLen {
			return fmt.Errorf("a label of a host name is at most %d characters (RFC 1035 2.3.4)", maxLabelLen)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return errors.New("the host name is not ASCII: give its IDNA form (xn--...), as clients send it (RFC 6066 3)")
			default:
				return fmt.Errorf("%q cannot appear in a host name", c)
			}
		}
	}
	return nil
}
