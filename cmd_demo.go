package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"
)

// demoCommand is "wstap demo".
func (a *app) demoCommand() *cobra.Command {
	var (
		out  outputFlags
		once bool
	)
	cmd := &cobra.Command{
		Use:   "demo [--once] [flags]",
		Short: "A local echo server and a scripted client talking through the proxy",
		Long: `Starts a local WebSocket echo server, the proxy in front of it, and a
scripted client that talks to the server through the proxy: text and
binary messages, a fragmented message, a ping, permessage-deflate, and a
close with code 1000. Everything is on 127.0.0.1, on ports picked free.

After the conversation the demo keeps running, so that you can point a
client of your own at the proxy, until Ctrl-C (SIGINT) or SIGTERM; with
--once it stops right after the conversation. The outputs are written
when it stops.

Without an output flag the conversation is printed as with --dump.`,
		Example: `  wstap demo
  wstap demo --once --json demo.json`,
		Args: noArgs(`"wstap demo" takes no arguments`),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runJob(cmd, func(j *job) error {
				return j.demo(&out, once)
			})
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&once, "once", false, "stop after the scripted conversation instead of waiting for Ctrl-C")
	out.register(fs)
	return cmd
}

// demo runs the demo until the job is stopped or, with once, until the
// conversation is over.
func (j *job) demo(out *outputFlags, once bool) error {
	if err := out.settle(j.stdout); err != nil {
		return err
	}
	if err := out.check(nil); err != nil {
		return err
	}
	echoLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the echo server: %w", err)
	}
	echo := &http.Server{Handler: http.HandlerFunc(demoEcho), ReadHeaderTimeout: 10 * time.Second}
	go echo.Serve(echoLn)
	defer echo.Close()

	proxyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the proxy: %w", err)
	}
	outs, err := j.openOutputs(out)
	if err != nil {
		proxyLn.Close()
		return err
	}
	p := newProxy(outs, echoLn.Addr().String(), j)
	proxyCtx, stopProxy := context.WithCancel(j.ctx)
	defer stopProxy()
	served := make(chan error, 1)
	go func() { served <- p.Serve(proxyCtx, proxyLn) }()

	url := "ws://" + proxyLn.Addr().String() + "/echo"
	j.infof("echo server on %s, proxy on %s", echoLn.Addr(), proxyLn.Addr())
	if err := demoConversation(j.ctx, url); err != nil {
		j.errorf("the scripted conversation: %v", err)
	}
	if once {
		// The connection ends as soon as both sides closed it; give the
		// proxy a moment to see that before stopping it.
		for deadline := time.Now().Add(2 * time.Second); p.Active() > 0 && time.Now().Before(deadline) && !j.interrupted(); {
			time.Sleep(10 * time.Millisecond)
		}
	} else if !j.interrupted() {
		j.infof("the proxy stays up at %s for clients of your own; stop with Ctrl-C", url)
		<-j.ctx.Done()
	}
	stopProxy()
	return <-served
}

// demoEcho is the demo's server: it sends every message back as it came,
// with permessage-deflate when the client offers it.
func demoEcho(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{EnableCompression: true}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client with the error
	}
	defer c.Close()
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

// demoFragmented is longer than the demo client's write buffer, so it goes
// out as several frames (RFC 6455 5.4).
var demoFragmented = strings.Repeat("a fragmented message, ", 60)

// demoConversation is the demo client's script. It checks every echo, so
// that a proxy that changed a byte is caught.
func demoConversation(ctx context.Context, url string) error {
	d := websocket.Dialer{EnableCompression: true, WriteBufferSize: 512, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.DialContext(ctx, url, http.Header{"User-Agent": {"wstap-demo"}})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", url, err)
	}
	defer c.Close()
	if resp.Header.Get("Sec-WebSocket-Extensions") == "" {
		return errors.New("the server did not accept permessage-deflate")
	}
	pong := false
	c.SetPongHandler(func(string) error { pong = true; return nil })
	c.SetReadDeadline(time.Now().Add(10 * time.Second))

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
