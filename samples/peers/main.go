// Command peers runs real WebSocket clients and servers against each other
// over loopback, one scenario at a time, so that make.sh can capture their
// traffic with tcpdump or dumpcap. Each scenario exercises a part of
// RFC 6455 and RFC 7692 with the libraries as they are used in the wild:
// gorilla/websocket and coder/websocket, and a browser (chromium) for the
// "chromium" scenario. The "violations" scenario breaks the protocol on
// purpose: its client speaks RFC 6455 by hand over a raw socket.
//
//	go run ./samples/peers -scenario gorilla -addr 127.0.0.1:9101
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
)

func main() {
	scenario := flag.String("scenario", "", "gorilla, fragments, deflate, takeover, ipv6, chromium or violations")
	addr := flag.String("addr", "127.0.0.1:9101", "address the server listens on")
	browser := flag.String("chromium", "chromium", "browser binary for the chromium scenario")
	scrub := flag.String("scrub", "", "instead of a scenario, remove the capture host's hardware and OS description from pcapng `FILE`")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("peers: ")
	if *scrub != "" {
		if err := scrubPcapng(*scrub); err != nil {
			log.Fatalf("scrub: %v", err)
		}
		return
	}

	run := map[string]func(string) error{
		"gorilla":    gorillaBasic,
		"fragments":  fragments,
		"deflate":    gorillaDeflate,
		"takeover":   coderTakeover,
		"ipv6":       multi,
		"chromium":   func(a string) error { return chromium(a, *browser) },
		"violations": violations,
	}[*scenario]
	if run == nil {
		log.Fatalf("unknown scenario %q", *scenario)
	}
	if err := run(*addr); err != nil {
		log.Fatalf("%s: %v", *scenario, err)
	}
}

// serve starts an HTTP server on addr with h and returns a function that
// stops it.
func serve(addr string, h http.Handler) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// gorillaEcho is a gorilla server that echoes messages up to 1 KiB and
// answers larger ones with their size, until the client closes.
func gorillaEcho(up *websocket.Upgrader) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if len(msg) > 1024 {
				msg = fmt.Appendf(nil, "got %d bytes", len(msg))
				typ = websocket.TextMessage
			}
			if string(msg) == "ping me" {
				c.WriteControl(websocket.PingMessage, []byte("server ping"), time.Now().Add(time.Second))
			}
			if string(msg) == "big please" {
				// A server without compression writes a message as one
				// frame: a 64-bit payload length.
				msg = []byte(strings.Repeat("0123456789", 7000))
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	}
}

// readAll reads messages on a gorilla connection until it fails; control
// frames are answered by gorilla's default handlers meanwhile.
func readAll(c *websocket.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

// closeGorilla sends a Close with code and reason and waits for the
// peer's answer.
func closeGorilla(c *websocket.Conn, read <-chan error, code int, reason string) error {
	msg := websocket.FormatCloseMessage(code, reason)
	if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		return err
	}
	select {
	case <-read:
	case <-time.After(2 * time.Second):
		return errors.New("no close answer")
	}
	return c.Close()
}

// gorillaBasic: masking, the three payload length forms, text and binary,
// pings both ways, a subprotocol, and a normal close.
func gorillaBasic(addr string) error {
	up := &websocket.Upgrader{Subprotocols: []string{"chat"}}
	stop, err := serve(addr, gorillaEcho(up))
	if err != nil {
		return err
	}
	defer stop()
	d := websocket.Dialer{Subprotocols: []string{"chat", "superchat"}}
	c, _, err := d.Dial("ws://"+addr+"/chat?room=1", nil)
	if err != nil {
		return err
	}
	read := readAll(c)
	msgs := []struct {
		typ  int
		data []byte
	}{
		{websocket.TextMessage, []byte("hello")},                         // 7-bit length
		{websocket.BinaryMessage, bytes.Repeat([]byte{0, 1, 2, 3}, 75)},  // 16-bit length
		{websocket.TextMessage, []byte(strings.Repeat("wstap ", 11000))}, // fragmented by gorilla's 4 KiB buffer
		{websocket.TextMessage, []byte("big please")},                    // answered in one 70000-byte frame
		{websocket.TextMessage, []byte("ping me")},
		{websocket.TextMessage, []byte("héllo wörld ✓")},
	}
	for _, m := range msgs {
		if err := c.WriteMessage(m.typ, m.data); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.WriteControl(websocket.PingMessage, []byte("client ping"), time.Now().Add(time.Second)); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	return closeGorilla(c, read, websocket.CloseNormalClosure, "bye")
}

// fragments: messages split into many frames with pings between the
// fragments, both ways, and a close with an application code.
func fragments(addr string) error {
	up := &websocket.Upgrader{WriteBufferSize: 64}
	stop, err := serve(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			// Answer with a fragmented binary message, a ping between its
			// fragments.
			wr, err := c.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return
			}
			wr.Write(bytes.Repeat([]byte{0xab}, 150))
			c.WriteControl(websocket.PingMessage, []byte("between"), time.Now().Add(time.Second))
			wr.Write(msg[:min(len(msg), 100)])
			wr.Close()
		}
	}))
	if err != nil {
		return err
	}
	defer stop()
	d := websocket.Dialer{WriteBufferSize: 64}
	c, _, err := d.Dial("ws://"+addr+"/fragments", nil)
	if err != nil {
		return err
	}
	read := readAll(c)
	for i := range 2 {
		wr, err := c.NextWriter(websocket.TextMessage)
		if err != nil {
			return err
		}
		for part := range 4 {
			fmt.Fprintf(wr, "message %d part %d: %s|", i, part, strings.Repeat("x", 40))
			if part == 1 {
				time.Sleep(10 * time.Millisecond)
				c.WriteControl(websocket.PingMessage, fmt.Appendf(nil, "ping %d", i), time.Now().Add(time.Second))
			}
		}
		if err := wr.Close(); err != nil {
			return err
		}
		time.Sleep(30 * time.Millisecond)
	}
	// An empty message and a pong nobody asked for (allowed, RFC 6455 5.5.3).
	c.WriteMessage(websocket.TextMessage, nil)
	c.WriteControl(websocket.PongMessage, []byte("unsolicited"), time.Now().Add(time.Second))
	time.Sleep(50 * time.Millisecond)
	return closeGorilla(c, read, 4001, "custom reason")
}

// gorillaDeflate: permessage-deflate as gorilla negotiates it, without
// context takeover, including a compressed message in several frames.
func gorillaDeflate(addr string) error {
	up := &websocket.Upgrader{EnableCompression: true}
	stop, err := serve(addr, gorillaEcho(up))
	if err != nil {
		return err
	}
	defer stop()
	d := websocket.Dialer{EnableCompression: true, WriteBufferSize: 128}
	c, _, err := d.Dial("ws://"+addr+"/deflate", nil)
	if err != nil {
		return err
	}
	read := readAll(c)
	doc := `{"user":"ada","items":[1,2,3,4,5,6,7,8,9,10],"note":"compress me, compress me, compress me"}`
	for i := range 3 {
		if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat(doc, i+1))); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte("binary\x00\x01"), 60)); err != nil {
		return err
	}
	time.Sleep(20 * time.Millisecond)
	// Past the 128-byte write buffer: the compressed message spans frames.
	big := []byte(wordSalad(500))
	if err := c.WriteMessage(websocket.TextMessage, big); err != nil {
		return err
	}
	time.Sleep(20 * time.Millisecond)
	c.EnableWriteCompression(false)
	c.WriteMessage(websocket.TextMessage, []byte("not compressed"))
	time.Sleep(50 * time.Millisecond)
	return closeGorilla(c, read, websocket.CloseNormalClosure, "")
}

// wordSalad returns n words picked by a fixed pseudo-random sequence: text
// that compresses, but not to almost nothing.
func wordSalad(n int) string {
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")
	var b strings.Builder
	x := uint32(2463534242)
	for range n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteString(words[x%uint32(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}

// coderTakeover: permessage-deflate with context takeover on both sides
// (coder/websocket), so that later messages refer back into earlier ones.
func coderTakeover(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop, err := serve(addr, coderEcho(coder.CompressionContextTakeover))
	if err != nil {
		return err
	}
	defer stop()
	c, _, err := coder.Dial(ctx, "ws://"+addr+"/takeover", &coder.DialOptions{CompressionMode: coder.CompressionContextTakeover})
	if err != nil {
		return err
	}
	base := `{"event":"price","symbol":"WSTP","bid":101.25,"ask":101.5,"venue":"loopback exchange","seq":%d}`
	for i := range 6 {
		msg := fmt.Sprintf(base, i) + strings.Repeat(" ", 60)
		if err := c.Write(ctx, coder.MessageText, []byte(msg)); err != nil {
			return err
		}
		if _, _, err := c.Read(ctx); err != nil {
			return err
		}
	}
	if err := c.Write(ctx, coder.MessageBinary, bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 64)); err != nil {
		return err
	}
	if _, _, err := c.Read(ctx); err != nil {
		return err
	}
	return c.Close(coder.StatusGoingAway, "going away")
}

// coderEcho is a coder/websocket server that echoes every message.
func coderEcho(mode coder.CompressionMode) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := r.Context()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	}
}

// multi: several connections at once over IPv6, from both libraries, with
// different close codes and one closed by the server.
func multi(addr string) error {
	mux := http.NewServeMux()
	mux.Handle("/gorilla", gorillaEcho(&websocket.Upgrader{}))
	mux.Handle("/coder", coderEcho(coder.CompressionDisabled))
	mux.HandleFunc("/kick", func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.ReadMessage()
		c.WriteMessage(websocket.TextMessage, []byte("you are kicked"))
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "policy"), time.Now().Add(time.Second))
		c.ReadMessage() // the client's answer
	})
	stop, err := serve(addr, mux)
	if err != nil {
		return err
	}
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/gorilla", nil)
		if err != nil {
			errs <- err
			return
		}
		read := readAll(c)
		for i := range 3 {
			c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "gorilla says %d", i))
			time.Sleep(15 * time.Millisecond)
		}
		errs <- closeGorilla(c, read, websocket.CloseNormalClosure, "done")
	}()
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := coder.Dial(ctx, "ws://"+addr+"/coder", nil)
		if err != nil {
			errs <- err
			return
		}
		c.SetReadLimit(1 << 20)
		for i := range 3 {
			c.Write(ctx, coder.MessageBinary, []byte{byte(i), 0xff, 0x00, 0x7f})
			c.Read(ctx)
		}
		// coder writes a message as one frame: a masked 64-bit length.
		big := make([]byte, 70000)
		for i := range big {
			big[i] = byte(i * 31)
		}
		if err := c.Write(ctx, coder.MessageBinary, big); err != nil {
			errs <- err
			return
		}
		if _, _, err := c.Read(ctx); err != nil {
			errs <- err
			return
		}
		errs <- c.Close(3000, "app code")
	}()
	go func() {
		defer wg.Done()
		c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/kick", nil)
		if err != nil {
			errs <- err
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte("let me in"))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				break // gorilla answers the server's Close itself
			}
		}
		time.Sleep(50 * time.Millisecond)
		errs <- c.Close()
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// violations: a clean gorilla connection, then a client that breaks
// RFC 6455 on purpose, both against a gorilla echo server. The client
// speaks the protocol by hand over a raw socket, because no library will
// send what it must not; its handshake is valid, so that what follows is
// judged as WebSocket framing. The clean connection comes first and is
// over before the other starts: it is the one without problems, and its
// six data segments keep the tests that swap neighbouring segments in
// groups of two or three from moving a segment of the next connection
// before that connection's SYN.
func violations(addr string) error {
	stop, err := serve(addr, gorillaEcho(&websocket.Upgrader{}))
	if err != nil {
		return err
	}
	defer stop()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/clean", nil)
	if err != nil {
		return err
	}
	read := readAll(c)
	if err := c.WriteMessage(websocket.TextMessage, []byte("all good here")); err != nil {
		return err
	}
	time.Sleep(20 * time.Millisecond)
	if err := closeGorilla(c, read, websocket.CloseNormalClosure, ""); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	return rawViolations(addr)
}

// rawViolations runs the hand-written client of the violations scenario.
// Three clean exchanges come first: a capture cut after the handshake is
// then still recognisable as WebSocket from clean frames of both sides
// before the first violation. Gorilla echoes text without checking its
// UTF-8 and takes a length in a longer form than needed, but closes the
// connection with 1002 at the first frame header it rejects: the frames
// it would reject go last, in one write, so that the server has read them
// all when it closes, and its close frame answers the first of them.
func rawViolations(addr string) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	if err := rawHandshake(nc, br, addr, "/violations"); err != nil {
		return err
	}
	// echoed sends one frame and waits for the server's echo, so that
	// each exchange is its own pair of segments in the capture.
	echoed := func(frame []byte) error {
		if _, err := nc.Write(frame); err != nil {
			return err
		}
		op, _, err := readServerFrame(br)
		if err != nil {
			return err
		}
		if want := frame[0] & 0x0f; op != want {
			return fmt.Errorf("answer has opcode %d, want the echo's %d", op, want)
		}
		return nil
	}
	for _, f := range [][]byte{
		rawFrame(0x81, true, false, []byte("hello, a valid frame")),
		rawFrame(0x82, true, false, []byte{0, 1, 2, 3, 0xfe, 0xff}),
		rawFrame(0x81, true, false, []byte("valid UTF-8: héllo ✓")),
		// 8.1: text must be UTF-8; 0xc3 0x28 is a cut two-byte sequence
		// and 0xff never occurs in UTF-8.
		rawFrame(0x81, true, false, []byte("not UTF-8: \xc3\x28 \xff")),
		// 5.2: a 5-byte length in the 16-bit form (a warning only).
		rawFrame(0x81, true, true, []byte("short")),
	} {
		if err := echoed(f); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	var batch []byte
	// 5.1: a client must mask every frame.
	batch = append(batch, rawFrame(0x81, false, false, []byte("unmasked client frame"))...)
	// 5.2: RSV2 with no extension negotiated that defines it.
	batch = append(batch, rawFrame(0x81|0x20, true, false, []byte("rsv2 set"))...)
	// 7.4.2: 999 is below the range of codes that may be sent.
	batch = append(batch, rawFrame(0x88, true, false, binary.BigEndian.AppendUint16(nil, 999))...)
	if _, err := nc.Write(batch); err != nil {
		return err
	}
	op, payload, err := readServerFrame(br)
	if err != nil {
		return err
	}
	if op != 8 || len(payload) < 2 || binary.BigEndian.Uint16(payload) != websocket.CloseProtocolError {
		return fmt.Errorf("the server answered with opcode %d %q, want a close 1002", op, payload)
	}
	// The server closes the TCP connection after its close frame; wait
	// for that before closing ours, so that the capture ends cleanly.
	if _, err := br.ReadByte(); err == nil {
		return errors.New("the server sent more after its close frame")
	}
	return nil
}

// rawHandshake sends a valid opening handshake and checks the server's
// answer as a client must (RFC 6455 4.1): status 101, the Upgrade and
// Connection headers, and Sec-WebSocket-Accept derived from the key.
func rawHandshake(nc net.Conn, br *bufio.Reader, addr, path string) error {
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		return fmt.Errorf("handshake: status %s", resp.Status)
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		return fmt.Errorf("handshake: Upgrade %q", resp.Header.Get("Upgrade"))
	case !strings.EqualFold(resp.Header.Get("Connection"), "upgrade"):
		return fmt.Errorf("handshake: Connection %q", resp.Header.Get("Connection"))
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		return fmt.Errorf("handshake: Sec-WebSocket-Accept %q does not match the key", resp.Header.Get("Sec-WebSocket-Accept"))
	}
	return nil
}

// rawFrame encodes one frame: b0 is the first header byte (FIN, RSV bits,
// opcode). A masked frame gets a fresh random key; long16 writes a short
// length in the 16-bit form, which RFC 6455 5.2 forbids.
func rawFrame(b0 byte, masked, long16 bool, payload []byte) []byte {
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126 && !long16:
		f = append(f, maskBit|byte(n))
	case n <= 0xffff:
		f = binary.BigEndian.AppendUint16(append(f, maskBit|126), uint16(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, maskBit|127), uint64(n))
	}
	if !masked {
		return append(f, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// readServerFrame reads one unfragmented, unmasked server frame and
// returns its opcode and payload.
func readServerFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("server frame header %x: fragmented or masked", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126, 127:
		ext := make([]byte, 2+6*(n-126))
		if _, err := io.ReadFull(br, ext); err != nil {
			return 0, nil, err
		}
		n = 0
		for _, b := range ext {
			n = n<<8 | uint64(b)
		}
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, p, nil
}

// chromiumPage opens a WebSocket, sends a few messages and closes it when
// every echo came back.
const chromiumPage = `<!doctype html>
<title>wstap sample</title>
<script>
const ws = new WebSocket("ws://" + location.host + "/ws", ["wstap.v1"]);
ws.binaryType = "arraybuffer";
let left = 6;
ws.onopen = () => {
  for (let i = 0; i < 5; i++) {
    ws.send(JSON.stringify({type: "chat", seq: i, text: "hello from the browser, message " + i, pad: "x".repeat(100)}));
  }
  ws.send(new Uint8Array([1, 2, 3, 4, 5, 250, 251, 252]).buffer);
};
ws.onmessage = () => { if (--left === 0) ws.close(4000, "all echoes received"); };
ws.onclose = () => { fetch("/done"); };
</script>`

// chromium: a real browser as client, which offers permessage-deflate and
// keeps its compression context between messages.
func chromium(addr, browser string) error {
	done := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, chromiumPage)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{
			Subprotocols:    []string{"wstap.v1"},
			CompressionMode: coder.CompressionContextTakeover,
		})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/done", func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(done) })
	})
	stop, err := serve(addr, mux)
	if err != nil {
		return err
	}
	defer stop()
	profile, err := os.MkdirTemp("", "peers-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	cmd := exec.Command(browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "http://"+addr+"/")
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	select {
	case <-done:
		time.Sleep(200 * time.Millisecond)
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the browser did not finish in 30 s")
	}
}

// scrubPcapng rewrites a pcapng file without the options that describe the
// machine that captured it (section header: shb_hardware 2, shb_os 3;
// interface description: if_os 12). The samples need none of them.
func scrubPcapng(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	var out []byte
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return fmt.Errorf("block at %d is cut", off)
		}
		typ, n := le.Uint32(b[off:]), int(le.Uint32(b[off+4:]))
		if n < 12 || off+n > len(b) {
			return fmt.Errorf("block at %d: length %d (only little-endian files are handled)", off, n)
		}
		block := b[off : off+n]
		fixed, drop := 0, map[uint16]bool{}
		switch typ {
		case 0x0a0d0d0a: // section header: magic, version, section length
			fixed, drop = 16, map[uint16]bool{2: true, 3: true}
		case 1: // interface description: link type, reserved, snap length
			fixed, drop = 8, map[uint16]bool{12: true}
		}
		if fixed == 0 {
			out = append(out, block...)
			off += n
			continue
		}
		body := append([]byte(nil), block[8:8+fixed]...)
		opts := block[8+fixed : n-4]
		for len(opts) >= 4 {
			code, l := le.Uint16(opts), int(le.Uint16(opts[2:]))
			if code == 0 || 4+l > len(opts) {
				break
			}
			size := 4 + (l+3)&^3
			if !drop[code] {
				body = append(body, opts[:min(size, len(opts))]...)
			}
			opts = opts[min(size, len(opts)):]
		}
		body = append(body, 0, 0, 0, 0) // end of options
		total := uint32(12 + len(body))
		nb := le.AppendUint32(nil, typ)
		nb = le.AppendUint32(nb, total)
		nb = append(nb, body...)
		out = le.AppendUint32(append(out, nb...), total)
		off += n
	}
	return os.WriteFile(path, out, 0o644)
}
