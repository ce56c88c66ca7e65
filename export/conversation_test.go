package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

var record = flag.Bool("record", false, "record testdata/streams/*.txt again from gorilla/websocket peers over loopback")

// step is one thing a peer does in a scripted conversation. The side that
// does not send reads (and checks) data messages; control frames are
// answered by gorilla's default handlers while the other side reads.
type step struct {
	from decode.Side
	op   int // websocket.TextMessage, BinaryMessage, PingMessage
	data []byte
	// chunk > 0 writes the message through NextWriter in pieces of this
	// size, so that a small write buffer splits it into frames.
	chunk int
}

// script is a whole conversation between a gorilla client and server.
type script struct {
	name string
	// plain sends a plain GET on the connection before the Upgrade.
	plain bool
	// reject makes the server refuse the Upgrade with 403.
	reject      bool
	compression bool
	subprotocol string
	query       string
	header      http.Header
	steps       []step
	// closeFrom sends the Close frame with closeCode and closeReason.
	closeFrom   decode.Side
	closeCode   int
	closeReason string
}

func binaryRange() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// scripts are the recorded conversations. Each exercises something an
// export must carry exactly: escapes, invalid UTF-8, fragmentation,
// compression, a refused handshake, credentials to redact.
func scripts() []script {
	long := strings.Repeat("0123456789abcdef", 44) // 704 bytes
	return []script{
		{
			name:        "chat",
			plain:       true,
			subprotocol: "chat",
			query:       "?room=1&access_token=s3cr3t&lang=en",
			header: http.Header{
				"Authorization": {"Bearer abc.def.ghi"},
				"Cookie":        {"session=xyz; theme=dark"},
				"X-Api-Key":     {"k-123"},
			},
			steps: []step{
				{from: decode.Client, op: websocket.TextMessage, data: []byte("hello")},
				{from: decode.Server, op: websocket.TextMessage, data: []byte("hello")},
				{from: decode.Client, op: websocket.TextMessage, data: []byte("tab\tquote\" back\\slash nl\n cr\r nul\x00 del\x7f <&> é ✓ \u2028")},
				{from: decode.Server, op: websocket.BinaryMessage, data: binaryRange()},
				{from: decode.Client, op: websocket.PingMessage, data: []byte("hb")},
				{from: decode.Client, op: websocket.TextMessage, data: []byte(long), chunk: 100},
				{from: decode.Server, op: websocket.TextMessage, data: []byte("not utf-8: \xff\xfe ok")},
				{from: decode.Server, op: websocket.BinaryMessage, data: nil},
			},
			closeFrom: decode.Client, closeCode: 1000, closeReason: "bye",
		},
		{
			name:        "deflate",
			compression: true,
			steps: []step{
				{from: decode.Client, op: websocket.TextMessage, data: []byte(`{"op":"subscribe","channel":"ticker","channel2":"ticker"}`)},
				{from: decode.Server, op: websocket.TextMessage, data: []byte(`{"ok":true,"channel":"ticker","channel2":"ticker"}`)},
				{from: decode.Server, op: websocket.TextMessage, data: []byte(strings.Repeat(`{"price":101.5,"size":3}`, 60)), chunk: 200},
				{from: decode.Client, op: websocket.BinaryMessage, data: bytes.Repeat([]byte{0, 1, 2, 3}, 64)},
			},
			closeFrom: decode.Server, closeCode: 4001, closeReason: "going away",
		},
		{
			name:   "rejected",
			reject: true,
			header: http.Header{"Origin": {"http://evil.example"}},
		},
	}
}

// chunk is bytes one side sent, as the relay read them.
type chunk struct {
	from decode.Side
	t    time.Time
	b    []byte
}

// stream is a recorded TCP connection: its addresses and chunks.
type stream struct {
	client, server string
	chunks         []chunk
	end            time.Time
}

// recorder relays one TCP connection between a client and a server and
// records what each side sent, in the order the relay read it.
type recorder struct {
	mu sync.Mutex
	s  stream
}

func (r *recorder) add(from decode.Side, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.chunks = append(r.s.chunks, chunk{from: from, t: time.Now(), b: append([]byte(nil), b...)})
}

// relay accepts one connection on ln, connects it to server and copies
// both ways while recording. It returns when both directions are done.
func (r *recorder) relay(ln net.Listener, server string) error {
	in, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("relay accept: %w", err)
	}
	defer in.Close()
	out, err := net.Dial("tcp", server)
	if err != nil {
		return fmt.Errorf("relay dial: %w", err)
	}
	defer out.Close()
	r.mu.Lock()
	r.s.client, r.s.server = in.RemoteAddr().String(), out.RemoteAddr().String()
	r.mu.Unlock()
	var wg sync.WaitGroup
	pump := func(from decode.Side, src, dst net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				r.add(from, buf[:n])
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pump(decode.Client, in, out)
	go pump(decode.Server, out, in)
	wg.Wait()
	r.mu.Lock()
	r.s.end = time.Now()
	r.mu.Unlock()
	return nil
}

// runScript runs sc between a real gorilla server and client over
// loopback, through a recording relay, and returns the recorded stream.
func runScript(t *testing.T, sc script) stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	serverErr := make(chan error, 1)
	up := websocket.Upgrader{
		ReadBufferSize: 256, WriteBufferSize: 256,
		EnableCompression: sc.compression,
		Subprotocols:      []string{"chat"},
		CheckOrigin:       func(r *http.Request) bool { return !sc.reject },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Date", "Sat, 21 Nov 2026 05:26:41 GMT")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, http.Header{"Set-Cookie": {"sid=new-session; Path=/; HttpOnly"}})
		if err != nil {
			serverErr <- nil // the refusal is the script
			return
		}
		defer c.Close()
		serverErr <- play(c, decode.Server, sc)
	})
	srvLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(srvLn)
	defer srv.Close()

	relayLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relayLn.Close()
	rec := &recorder{}
	relayDone := make(chan error, 1)
	go func() { relayDone <- rec.relay(relayLn, srvLn.Addr().String()) }()

	d := websocket.Dialer{
		ReadBufferSize: 256, WriteBufferSize: 256,
		EnableCompression: sc.compression,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil || !sc.plain {
				return conn, err
			}
			// A plain request on the same connection before the Upgrade.
			fmt.Fprintf(conn, "GET /health HTTP/1.1\r\nHost: %s\r\nUser-Agent: wstap-test\r\n\r\n", addr)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				conn.Close()
				return nil, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return conn, nil
		},
	}
	if sc.subprotocol != "" {
		d.Subprotocols = []string{sc.subprotocol}
	}
	url := "ws://" + relayLn.Addr().String() + "/ws" + sc.query
	c, resp, err := d.DialContext(ctx, url, sc.header)
	if sc.reject {
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: dial: want a 403 refusal, got %v", sc.name, err)
		}
		resp.Body.Close()
	} else {
		if err != nil {
			t.Fatalf("%s: dial: %v", sc.name, err)
		}
		if err := play(c, decode.Client, sc); err != nil {
			t.Fatalf("%s: client: %v", sc.name, err)
		}
		c.Close()
	}
	select {
	case err := <-serverErr:
		if err != nil {
			t.Fatalf("%s: server: %v", sc.name, err)
		}
	case <-ctx.Done():
		t.Fatalf("%s: server did not finish", sc.name)
	}
	// A refused client leaves its connection to the server; the relay ends
	// when it is closed.
	srv.Close()
	select {
	case err := <-relayDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("%s: relay did not finish", sc.name)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.s
}

// play runs one side of sc on c: it sends its own steps, reads and checks
// the other side's data messages, then takes part in the closing
// handshake (RFC 6455 7.1.2).
func play(c *websocket.Conn, me decode.Side, sc script) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, s := range sc.steps {
		if s.from != me {
			if s.op == websocket.PingMessage {
				continue // answered by the reader's default handler
			}
			op, data, err := c.ReadMessage()
			if err != nil {
				return fmt.Errorf("step %d: read: %w", i, err)
			}
			if op != s.op || !bytes.Equal(data, s.data) {
				return fmt.Errorf("step %d: got opcode %d %q, want %d %q", i, op, data, s.op, s.data)
			}
			continue
		}
		var err error
		switch {
		case s.op == websocket.PingMessage:
			err = c.WriteControl(websocket.PingMessage, s.data, time.Now().Add(5*time.Second))
		case s.chunk > 0:
			err = writeChunked(c, s)
		default:
			err = c.WriteMessage(s.op, s.data)
		}
		if err != nil {
			return fmt.Errorf("step %d: write: %w", i, err)
		}
	}
	if sc.closeFrom == me {
		msg := websocket.FormatCloseMessage(sc.closeCode, sc.closeReason)
		if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second)); err != nil {
			return fmt.Errorf("close: %w", err)
		}
	}
	// Read until the Close arrives: gorilla answers a Close with a Close
	// of the same code, and returns it as an error.
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != sc.closeCode {
				return fmt.Errorf("close code %d, want %d", ce.Code, sc.closeCode)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for close: %w", err)
		}
	}
}

func writeChunked(c *websocket.Conn, s step) error {
	w, err := c.NextWriter(s.op)
	if err != nil {
		return err
	}
	for p := s.data; len(p) > 0; {
		n := min(s.chunk, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return w.Close()
}

// decodeStream feeds a recorded stream to a tap of a store of its own, as
// capture does, with l (which may be nil) seeing every decoder event, and
// returns the ended connection as the store keeps it.
func decodeStream(t testing.TB, id string, s stream, l decode.Listener) *session.Conversation {
	t.Helper()
	st := newTestStore(t)
	decodeInto(session.NewTap(st, session.TapOptions{Observe: l}), id, s)
	conv, err := st.Conversation(0)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

// decodeInto feeds a recorded stream to a connection opened on tap.
func decodeInto(tap *session.Tap, id string, s stream) {
	c := tap.Open(&decode.Connection{ID: id, Client: s.client, Server: s.server, Source: "pcap"})
	for _, ch := range s.chunks {
		c.Feed(ch.from, ch.t, ch.b)
	}
	c.End(s.end)
}

// The stream file format: a comment line, "client ADDR", "server ADDR",
// one "c|s TIME HEX" line per chunk, and "end TIME".

func writeStream(path string, s stream) error {
	var b strings.Builder
	b.WriteString("# recorded from gorilla/websocket peers over loopback by TestRecordStreams (go test -run TestRecordStreams -record)\n")
	fmt.Fprintf(&b, "client %s\nserver %s\n", s.client, s.server)
	for _, c := range s.chunks {
		side := "c"
		if c.from == decode.Server {
			side = "s"
		}
		fmt.Fprintf(&b, "%s %s %s\n", side, c.t.UTC().Format(time.RFC3339Nano), hex.EncodeToString(c.b))
	}
	fmt.Fprintf(&b, "end %s\n", s.end.UTC().Format(time.RFC3339Nano))
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readStream(path string) (stream, error) {
	var s stream
	data, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	for n, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := fmt.Errorf("%s:%d: bad line %q", path, n+1, line)
		switch f[0] {
		case "client", "server":
			if len(f) != 2 {
				return s, bad
			}
			if f[0] == "client" {
				s.client = f[1]
			} else {
				s.server = f[1]
			}
		case "c", "s", "end":
			t, err := time.Parse(time.RFC3339Nano, f[1])
			if err != nil {
				return s, bad
			}
			if f[0] == "end" {
				s.end = t
				continue
			}
			if len(f) != 3 {
				return s, bad
			}
			b, err := hex.DecodeString(f[2])
			if err != nil {
				return s, bad
			}
			from := decode.Client
			if f[0] == "s" {
				from = decode.Server
			}
			s.chunks = append(s.chunks, chunk{from: from, t: t, b: b})
		default:
			return s, bad
		}
	}
	return s, nil
}

// TestRecordStreams records the fixtures again with -record. Recording is
// explicit because the peers choose random keys and masks: the fixtures
// are fixed so that the golden files can be.
func TestRecordStreams(t *testing.T) {
	if !*record {
		t.Skip("run with -record to record testdata/streams again")
	}
	for _, sc := range scripts() {
		s := runScript(t, sc)
		if err := writeStream(filepath.Join("testdata", "streams", sc.name+".txt"), s); err != nil {
			t.Fatal(err)
		}
	}
}

// fixtures returns the recorded streams by name, in script order.
func fixtures(t *testing.T) []namedStream {
	t.Helper()
	var out []namedStream
	for _, sc := range scripts() {
		s, err := readStream(filepath.Join("testdata", "streams", sc.name+".txt"))
		if err != nil {
			t.Fatalf("%v (record the fixtures with: go test ./export -run TestRecordStreams -record)", err)
		}
		out = append(out, namedStream{sc: sc, s: s})
	}
	return out
}

type namedStream struct {
	sc script
	s  stream
}
