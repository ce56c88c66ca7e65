package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"net/http"

	"github.com/gorilla/websocket"
)

// serverCmd is a WebSocket echo server: every data message comes back as
// it came, one message for one, of the same type and bytes, without
// compression (none is negotiated), so that a client can check every
// echo and the wire carries the same bytes on every path measured.
func serverCmd(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "accept connections on `ADDR`")
	certFile := fs.String("tls-cert", "", "serve wss:// with the certificate chain in `FILE` (PEM)")
	keyFile := fs.String("tls-key", "", "and its key in `FILE` (PEM)")
	parse(fs, args)
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("give -tls-cert and -tls-key together")
	}
	up := &websocket.Upgrader{
		// A 64 KiB message is read and written in one piece.
		ReadBufferSize:  64 << 10,
		WriteBufferSize: 64 << 10,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered the client
		}
		defer c.Close()
		echo(c)
	})
	ln, err := listen(*addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return err
		}
		// HTTP/1.1 only: an Upgrade needs it.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// echo sends every message back until the connection ends. The buffer is
// reused, so that the server's own allocations stay out of the figures.
// A close from the client is answered by gorilla's default close handler.
func echo(c *websocket.Conn) {
	var buf bytes.Buffer
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		if err := c.WriteMessage(mt, buf.Bytes()); err != nil {
			return
		}
	}
}
