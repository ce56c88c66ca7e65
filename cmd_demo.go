package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"
	"github.com/wstap/wstap/capture/proxy"
	"github.com/wstap/wstap/capture/proxy/ca"
)

// demoCommand is "wstap demo".
func (a *app) demoCommand() *cobra.Command {
	var (
		out    outputFlags
		once   bool
		write  string
		keylog string
	)
	cmd := &cobra.Command{
		Use:   "demo [--once] [flags]",
		Short: "A local wss:// server and a scripted client talking through the intercepting proxy",
		Long: `Starts a local wss:// server (echo and server push, permessage-deflate),
the forward proxy, and a scripted client that reaches the server through
the proxy as a browser would: a CONNECT tunnel, in which the proxy
intercepts TLS with a certificate of its own CA. The conversation: text
and binary messages, a fragmented message, pushes from the server, a ping,
and a close with code 1000. Everything is on 127.0.0.1, on ports picked
free; the CAs are made for the demo in a temporary directory (your own
wstap CA is not touched) and removed at the end.

After the conversation the demo keeps running, so that you can point a
client of your own at the proxy, until Ctrl-C (SIGINT) or SIGTERM; with
--once it stops right after the conversation. The outputs are written
when it stops.

Without an output flag, on a terminal, the terminal UI opens and follows the
conversation (press ? in it for its keys); --dump prints the
conversation instead, one line per message.`,
		Example: `  wstap demo
  wstap demo --once --json demo.json -w demo.pcapng`,
		Args: noArgs(`"wstap demo" takes no arguments`),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runJob(cmd, func(j *job) error {
				return j.demo(&out, once, write, keylog)
			})
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&once, "once", false, "stop after the scripted conversation instead of waiting for Ctrl-C")
	fs.StringVarP(&write, "write", "w", "", "also write the relayed streams, decrypted, to `FILE.pcapng`")
	fs.StringVar(&keylog, "keylog", "", "append the TLS secrets of both legs to `FILE` (NSS key log format)")
	out.register(fs)
	return cmd
}

// demo runs the demo until the job is stopped or, with once, until the
// conversation is over.
func (j *job) demo(out *outputFlags, once bool, write, keylog string) error {
	if err := out.settle(j.stdout); err != nil {
		return err
	}
	if err := out.check(nil, writeFlag(write)...); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "wstap-demo-")
	if err != nil {
		return fmt.Errorf("making the demo's directory: %w", err)
	}
	defer os.RemoveAll(dir)
	// Two CAs, as in real life: the server's certificate comes from one
	// (which the proxy trusts, as it trusts the system's roots), and the
	// proxy intercepts with its own (which the client trusts).
	serverCA, err := ca.Load(filepath.Join(dir, "server-ca"))
	if err != nil {
		return fmt.Errorf("making the demo server's CA: %w", err)
	}
	proxyCA, err := ca.Load(filepath.Join(dir, "proxy-ca"))
	if err != nil {
		return fmt.Errorf("making the demo proxy's CA: %w", err)
	}

	serverLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the demo server: %w", err)
	}
	server := &http.Server{
		Handler:           http.HandlerFunc(demoServer),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{GetCertificate: serverCA.GetCertificate("localhost"), NextProtos: []string{"http/1.1"}},
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go server.ServeTLS(serverLn, "", "")
	defer server.Close()

	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the proxy: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.Certificate())
	run, err := j.startProxy(out, proxy.Options{CA: proxyCA, UpstreamRoots: roots}, write, keylog)
	if err != nil {
		proxyLn.Close()
		return err
	}
	defer run.close(j)
	proxyCtx, stopProxy := context.WithCancel(j.ctx)
	defer stopProxy()
	served := make(chan error, 1)
	go func() { served <- run.p.Serve(proxyCtx, proxyLn) }()

	_, port, _ := net.SplitHostPort(serverLn.Addr().String())
	target := "wss://localhost:" + port + "/echo"
	proxyURL := &url.URL{Scheme: "http", Host: proxyLn.Addr().String()}
	j.infof("wss server on %s, forward proxy on %s", serverLn.Addr(), proxyURL)
	clientRoots := x509.NewCertPool()
	clientRoots.AddCert(proxyCA.Certificate())
	if err := demoConversation(j.ctx, target, proxyURL, clientRoots); err != nil {
		j.errorf("the scripted conversation: %v", err)
	}
	if once {
		// The connection ends as soon as both sides closed it; give the
		// proxy a moment to see that before stopping it.
		waitIdle(j.ctx, run.p, 2*time.Second)
	} else if !j.interrupted() {
		j.infof("the proxy stays up for clients of your own: HTTPS_PROXY=%s, trusting %s, to %s", proxyURL, proxyCA.CertFile(), target)
		<-j.ctx.Done()
	}
	stopProxy()
	return <-served
}

// demoPushes is how many messages the demo server pushes when asked.
const demoPushes = 3

// demoServer is the demo's wss server: it sends a greeting, then every
// message back as it came, and a few pushes of its own when the client
// sends "subscribe"; with permessage-deflate when the client offers it.
func demoServer(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{EnableCompression: true}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client with the error
	}
	defer c.Close()
	if c.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","server":"wstap demo"}`)) != nil {
		return
	}
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
		if typ == websocket.TextMessage && string(msg) == "subscribe" {
			for i := 1; i <= demoPushes; i++ {
				time.Sleep(50 * time.Millisecond)
				if c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"push","seq":%d}`, i)) != nil {
					return
				}
			}
		}
	}
}

// demoFragmented is longer than the demo client's write buffer, so it goes
// out as several frames (RFC 6455 5.4).
var demoFragmented = strings.Repeat("a fragmented message, ", 60)

// demoConversation is the demo client's script. It checks every echo, so
// that a proxy that changed a byte is caught.
func demoConversation(ctx context.Context, target string, proxyURL *url.URL, roots *x509.CertPool) error {
	d := websocket.Dialer{
		EnableCompression: true,
		WriteBufferSize:   512,
		HandshakeTimeout:  5 * time.Second,
		Proxy:             http.ProxyURL(proxyURL),
		TLSClientConfig:   &tls.Config{RootCAs: roots},
	}
	c, resp, err := d.DialContext(ctx, target, http.Header{"User-Agent": {"wstap-demo"}})
	if err != nil {
		return fmt.Errorf("connecting to %s through the proxy: %w", target, err)
	}
	defer c.Close()
	if resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		return errors.New("the server did not accept permessage-deflate")
	}
	pong := false
	c.SetPongHandler(func(string) error { pong = true; return nil })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, hello, err := c.ReadMessage(); err != nil || !bytes.Contains(hello, []byte("welcome")) {
		return fmt.Errorf("waiting for the server's greeting: got %q, %v", preview(hello), err)
	}

	echo := func(typ int, msg []byte, compress bool) error {
		c.EnableWriteCompression(compress)
		if err := c.WriteMessage(typ, msg); err != nil {
			return fmt.Errorf("sending %q: %w", preview(msg), err)
		}
		gotTyp, got, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("reading the echo of %q: %w", preview(msg), err)
		}
		if gotTyp != typ || !bytes.Equal(got, msg) {
			return fmt.Errorf("the echo of %q came back as %q (type %d)", preview(msg), preview(got), gotTyp)
		}
		return nil
	}
	steps := []struct {
		typ      int
		msg      []byte
		compress bool
	}{
		{websocket.TextMessage, []byte("hello through wstap"), true},
		{websocket.BinaryMessage, []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff}, true},
		{websocket.TextMessage, []byte(`{"type":"chat","text":"ünïcödé ✓"}`), true},
		{websocket.TextMessage, []byte(demoFragmented), false},
	}
	for _, s := range steps {
		if err := echo(s.typ, s.msg, s.compress); err != nil {
			return err
		}
	}
	if err := echo(websocket.TextMessage, []byte("subscribe"), true); err != nil {
		return err
	}
	for i := 1; i <= demoPushes; i++ {
		want := fmt.Sprintf(`{"type":"push","seq":%d}`, i)
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			return fmt.Errorf("waiting for push %d: got %q, %v", i, preview(got), err)
		}
	}
	if err := c.WriteControl(websocket.PingMessage, []byte("are you there?"), time.Now().Add(5*time.Second)); err != nil {
		return fmt.Errorf("sending a ping: %w", err)
	}
	// The pong is read on the way to this echo.
	if err := echo(websocket.TextMessage, []byte("still here"), true); err != nil {
		return err
	}
	if !pong {
		return errors.New("no pong came back for the ping")
	}
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "demo done"), time.Now().Add(5*time.Second)); err != nil {
		return fmt.Errorf("sending the close: %w", err)
	}
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		return fmt.Errorf("waiting for the server's close: %v", err)
	}
	return nil
}

// preview shortens a payload for an error message.
func preview(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
