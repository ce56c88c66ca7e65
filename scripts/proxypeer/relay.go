package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
)

// relayCmd is the baseline a proxy is compared to: a TCP relay that copies
// both directions with io.Copy and nothing else. On Linux io.Copy between
// two TCP connections moves the bytes with splice(2), without copying
// them through user space: that is the floor of what a relay costs here,
// and what a proxy that must look at every byte pays on top of it.
func relayCmd(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "accept connections on `ADDR`")
	to := fs.String("to", "", "relay each connection to `ADDR`")
	userSpace := fs.Bool("copy", false, "copy through user space with read(2) and write(2), as a proxy that looks at the bytes must, instead of splice(2)")
	parse(fs, args)
	if *to == "" {
		return errors.New("-to ADDR is required")
	}
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	copyFn := io.Copy
	if *userSpace {
		copyFn = copyThroughUserSpace
	}
	return serveRelay(ln, func() (net.Conn, error) { return net.Dial("tcp", *to) }, copyFn)
}

// userSpaceBuffer is the read size of the -copy relay: 256 KiB, the size
// wstap's proxy reads a busy direction with.
const userSpaceBuffer = 256 << 10

// copyThroughUserSpace copies src to dst with read(2) and write(2) through
// a buffer of its own. Hiding ReadFrom and WriteTo keeps io.Copy from
// splicing: this is the least a relay that must see every byte does.
func copyThroughUserSpace(dst io.Writer, src io.Reader) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, userSpaceBuffer))
}

// tlsRelayCmd is the baseline for wss:// through a TLS-intercepting proxy:
// it ends the client's TLS with the given certificate, opens TLS of its
// own to the upstream (verified against -upstream-ca, as the proxy does),
// and copies the plaintext both ways. A proxy that intercepts TLS does at
// least this much work; what it does beyond is its own cost.
func tlsRelayCmd(args []string) error {
	fs := flag.NewFlagSet("tlsrelay", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "accept TLS connections on `ADDR`")
	to := fs.String("to", "", "relay each connection to the TLS server at `ADDR`")
	certFile := fs.String("cert", "", "present the certificate chain in `FILE` (PEM) to clients")
	keyFile := fs.String("key", "", "its key in `FILE` (PEM)")
	caFile := fs.String("upstream-ca", "", "verify the upstream against the CA certificates in `FILE` (PEM)")
	parse(fs, args)
	if *to == "" || *certFile == "" || *keyFile == "" || *caFile == "" {
		return errors.New("-to, -cert, -key and -upstream-ca are required")
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	roots, err := loadPool(*caFile)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*to)
	if err != nil {
		return err
	}
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	in := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	out := &tls.Config{RootCAs: roots, ServerName: host, NextProtos: []string{"http/1.1"}}
	return serveRelay(tls.NewListener(ln, in), func() (net.Conn, error) { return tls.Dial("tcp", *to, out) }, io.Copy)
}

// serveRelay relays every connection accepted on ln to one that dial
// makes, each direction copied by copyFn.
func serveRelay(ln net.Listener, dial func() (net.Conn, error), copyFn func(io.Writer, io.Reader) (int64, error)) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			u, err := dial()
			if err != nil {
				fmt.Fprintf(os.Stderr, "proxypeer: dialling the upstream: %v\n", err)
				c.Close()
				return
			}
			pipe(c, u, copyFn)
		}()
	}
}

// pipe copies a to b and b to a until both directions ended. The end of
// one direction is passed on as a half-close (TCP FIN, or TLS
// close_notify), as a transparent relay must: the other direction may
// still carry the answer.
func pipe(a, b net.Conn, copyFn func(io.Writer, io.Reader) (int64, error)) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := copyFn(dst, src); err == nil {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
		}
		a.Close()
		b.Close()
	}
	go half(b, a)
	go half(a, b)
	wg.Wait()
	a.Close()
	b.Close()
}
