package session

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

var t0 = time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)

// testStore makes a store in the test's temporary directory.
func testStore(t testing.TB) *Store {
	return testStoreWith(t, StoreOptions{})
}

// testStoreWith makes a store with opts in the test's temporary
// directory.
func testStoreWith(t testing.TB, opts StoreOptions) *Store {
	t.Helper()
	opts.SpillDir = t.TempDir()
	s, err := NewStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// observed keeps copies of every event the tap records, per connection:
// what the decoder said, to hold the store against.
type observed struct {
	mu    sync.Mutex // the tap's connections decode on goroutines of their own
	conns map[string]*Conversation
	order []string
}

func (o *observed) listen(e decode.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conns == nil {
		o.conns = map[string]*Conversation{}
	}
	c := o.conns[e.Conn.ID]
	if c == nil {
		c = &Conversation{}
		o.conns[e.Conn.ID] = c
		o.order = append(o.order, e.Conn.ID)
	}
	e = copyEvent(e)
	switch e.Kind {
	case decode.EventFrame:
		c.Frames = append(c.Frames, *e.Frame)
	case decode.EventMessage:
		for _, fi := range e.Message.Frames {
			c.Frames[fi].Message = e.Index
		}
		if e.Message.Close != nil {
			cl := *e.Message.Close
			e.Message.Close = &cl
		}
		c.Messages = append(c.Messages, *e.Message)
	case decode.EventProblem:
		c.Problems = append(c.Problems, *e.Problem)
	case decode.EventExchange:
		c.Exchanges = append(c.Exchanges, *e.Exchange)
	}
	c.Connection = *e.Conn
}

// frame encodes a frame; a nil key sends it unmasked.
func frame(op decode.Opcode, fin bool, rsv uint8, key *[4]byte, payload []byte) []byte {
	h := decode.FrameHeader{Fin: fin, Rsv: rsv, Opcode: op, Length: uint64(len(payload))}
	p := bytes.Clone(payload)
	if key != nil {
		h.Masked, h.MaskKey = true, *key
		decode.Mask(h.MaskKey, 0, p)
	}
	return append(decode.AppendFrameHeader(nil, h), p...)
}

var testKey = [4]byte{1, 2, 3, 4}

const upgrade = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"

const accepted = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"

// compress deflates p as permessage-deflate does without context
// takeover: the final 00 00 ff ff removed (RFC 7692 7.2.1).
func compress(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// conversation feeds a varied conversation to connection c of the tap:
// small and large, text and binary, compressed, fragmented with a ping
// between fragments, a message over a block of records, and a close.
func conversation(c *Conn, rng *rand.Rand, messages int) {
	at := t0
	step := func() time.Time { at = at.Add(time.Millisecond); return at }
	c.Feed(decode.Client, step(), []byte(upgrade))
	c.Feed(decode.Server, step(), []byte(accepted))
	for i := range messages {
		n := rng.IntN(300)
		if i%97 == 0 {
			n = 70000
		}
		p := make([]byte, n)
		for j := range p {
			p[j] = 'a' + byte(rng.IntN(26))
		}
		switch i % 5 {
		case 0:
			c.Feed(decode.Client, step(), frame(decode.OpText, true, 0, &testKey, p))
		case 1:
			c.Feed(decode.Server, step(), frame(decode.OpBinary, true, 4, nil, compress(p)))
		case 2: // fragmented, a ping between the fragments
			half := len(p) / 2
			c.Feed(decode.Client, step(), frame(decode.OpText, false, 0, &testKey, p[:half]))
			c.Feed(decode.Client, step(), frame(decode.OpPing, true, 0, &testKey, []byte("ping")))
			c.Feed(decode.Server, step(), frame(decode.OpPong, true, 0, nil, []byte("ping")))
			c.Feed(decode.Client, step(), frame(decode.OpContinuation, true, 0, &testKey, p[half:]))
		case 3: // a server frame masked: a problem
			c.Feed(decode.Server, step(), frame(decode.OpText, true, 0, &testKey, p))
		default:
			c.Feed(decode.Server, step(), frame(decode.OpText, true, 0, nil, p))
		}
	}
	c.Feed(decode.Client, step(), frame(decode.OpClose, true, 0, &testKey, []byte("\x03\xe8bye")))
	c.Feed(decode.Server, step(), frame(decode.OpClose, true, 0, nil, []byte("\x03\xe8")))
	c.End(step())
}

// diffConversation describes the first difference between what the
// decoder emitted and what the store returns.
func diffConversation(want, got *Conversation) string {
	if len(want.Frames) != len(got.Frames) || len(want.Messages) != len(got.Messages) || len(want.Problems) != len(got.Problems) || len(want.Exchanges) != len(got.Exchanges) {
		return fmt.Sprintf("%d/%d/%d/%d frames/messages/problems/exchanges emitted, %d/%d/%d/%d stored",
			len(want.Frames), len(want.Messages), len(want.Problems), len(want.Exchanges), len(got.Frames), len(got.Messages), len(got.Problems), len(got.Exchanges))
	}
	norm := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	for i := range want.Frames {
		a, b := want.Frames[i], got.Frames[i]
		a.Payload, b.Payload = norm(a.Payload), norm(b.Payload)
		if !reflect.DeepEqual(a, b) {
			return fmt.Sprintf("frame %d:\n emitted %+v\n stored  %+v", i, a, b)
		}
	}
	for i := range want.Messages {
		a, b := want.Messages[i], got.Messages[i]
		a.Payload, b.Payload = norm(a.Payload), norm(b.Payload)
		if !reflect.DeepEqual(a, b) {
			return fmt.Sprintf("message %d:\n emitted %+v\n stored  %+v", i, a, b)
		}
	}
	if !reflect.DeepEqual(want.Problems, got.Problems) {
		return fmt.Sprintf("problems:\n emitted %+v\n stored  %+v", want.Problems, got.Problems)
	}
	for i := range want.Exchanges {
		if !reflect.DeepEqual(want.Exchanges[i], got.Exchanges[i]) {
			return fmt.Sprintf("exchange %d:\n emitted %+v\n stored  %+v", i, want.Exchanges[i], got.Exchanges[i])
		}
	}
	wc, gc := want.Connection, got.Connection
	if wc.ID != gc.ID || wc.State != gc.State || wc.URL != gc.URL || !reflect.DeepEqual(wc.Close, gc.Close) ||
		!reflect.DeepEqual(wc.CloseReply, gc.CloseReply) || !reflect.DeepEqual(wc.Request, gc.Request) ||
		!reflect.DeepEqual(wc.Response, gc.Response) || wc.Bytes != gc.Bytes || !wc.LastSeen.Equal(gc.LastSeen) {
		return fmt.Sprintf("connection:\n emitted %+v\n stored  %+v", wc, gc)
	}
	return ""
}

// TestStoreKeepsWhatWasEmitted decodes several interleaved connections
// through a tap, each past several blocks of records, and checks that the
// store gives back exactly what the decoder emitted: frames, messages,
// payloads, problems, the close and the metadata.
func TestStoreKeepsWhatWasEmitted(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	rng := rand.New(rand.NewPCG(5, 6))
	var conns []*Conn
	for i := range 3 {
		c := tap.Open(&decode.Connection{ID: tap.NextID(), Client: fmt.Sprintf("127.0.0.1:%d", 50000+i), Server: "127.0.0.1:80", Source: "test", Opened: t0})
		conns = append(conns, c)
	}
	// Interleaved: the payloads of one connection's fragmented messages
	// are not next to each other in the spill file.
	done := make(chan struct{})
	for i, c := range conns {
		go func() {
			conversation(c, rand.New(rand.NewPCG(uint64(i), 7)), 1500+700*i)
			done <- struct{}{}
		}()
	}
	for range conns {
		<-done
	}
	_ = rng
	ended, err := s.Ended()
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 3 {
		t.Fatalf("%d connections ended, want 3", len(ended))
	}
	for _, got := range ended {
		want := obs.conns[got.ID]
		if want.ID == "" {
			t.Fatalf("connection %q was not observed", got.ID)
		}
		if got.FrameCount <= blockRecords {
			t.Fatalf("connection %s has %d frames: the test wants more than a block", got.ID, got.FrameCount)
		}
		if d := diffConversation(want, got); d != "" {
			t.Fatalf("connection %s: %s", got.ID, d)
		}
		if got.State != decode.StateClosed || got.Close == nil || got.Close.Code != 1000 || !got.Ended {
			t.Errorf("connection %s: state %s, close %+v", got.ID, got.State, got.Close)
		}
		checkFramesDerivable(t, s, got)
	}
}

// checkFramesDerivable reads every frame of c as the JSON export does, its
// head and then whether its message is derivable, and holds the answer
// against a reader that reads the message's record. The frame of a
// message of one frame answers for it (see Reader.Derivable).
func checkFramesDerivable(t *testing.T, s *Store, c *Conversation) {
	t.Helper()
	r := s.NewReader()
	marked, markedNot, derivable, not := 0, 0, 0, 0
	for i := range c.FrameCount {
		f, err := r.FramePrefix(c.ConnID, i, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := f.Message
		got, err := r.Derivable(c.ConnID, m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.NewReader().Derivable(c.ConnID, m)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("connection %s frame %d: derivable %v after its head, %v from message %d's record", c.ID, i, got, want, m)
		}
		if want {
			derivable++
		} else {
			not++
		}
		sc, err := s.conn(c.ConnID)
		if err != nil {
			t.Fatal(err)
		}
		sc.mu.Lock()
		fr, err := s.frameRec(sc, i, nil)
		sc.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		alone := len(c.Messages[m].Frames) == 1
		if (fr.flags&flagAlone != 0) != alone || alone && (fr.flags&flagDerivable != 0) != want {
			t.Fatalf("connection %s frame %d: flags %#x, message %d of %d frames, derivable %v", c.ID, i, fr.flags, m, len(c.Messages[m].Frames), want)
		}
		if alone {
			marked++
			if !want {
				markedNot++
			}
		}
	}
	if marked == 0 || markedNot == 0 || marked == derivable+not || derivable == 0 || not == 0 {
		t.Errorf("connection %s: %d frames alone in their message (%d of them not derivable), %d derivable, %d not: the test wants each kind", c.ID, marked, markedNot, derivable, not)
	}
}

// TestStoreRandomAccess reads messages and frames of a long connection in
// random order, through a reader, and compares them with the whole read.
func TestStoreRandomAccess(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	conversation(c, rand.New(rand.NewPCG(9, 9)), 6000)
	want := obs.conns["1"]
	r := s.NewReader()
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		i := rng.IntN(len(want.Messages))
		m, err := r.Message(0, i)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Payload, want.Messages[i].Payload) || !slices.Equal(m.Frames, want.Messages[i].Frames) {
			t.Fatalf("message %d differs", i)
		}
		h, err := r.MessageHead(0, i)
		if err != nil || h.Payload != nil || h.Size != want.Messages[i].Size {
			t.Fatalf("head of message %d: %+v %v", i, h, err)
		}
		fi := rng.IntN(len(want.Frames))
		f, err := r.Frame(0, fi)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Payload, want.Frames[fi].Payload) || f.Message != want.Frames[fi].Message {
			t.Fatalf("frame %d differs", fi)
		}
		// Prefixes: at most n bytes, the first n of the payload; 0 is
		// none for a frame.
		n := rng.IntN(100)
		p, err := r.MessagePrefix(0, i, n)
		wantP := want.Messages[i].Payload[:min(max(n, 1), len(want.Messages[i].Payload))]
		if err != nil || !bytes.Equal(p.Payload, wantP) || p.Size != want.Messages[i].Size {
			t.Fatalf("prefix %d of message %d: %q, want %q (%v)", n, i, p.Payload, wantP, err)
		}
		fp, err := r.FramePrefix(0, fi, n)
		wantP = want.Frames[fi].Payload[:min(n, len(want.Frames[fi].Payload))]
		if err != nil || !bytes.Equal(fp.Payload, wantP) || fp.Length != want.Frames[fi].Length {
			t.Fatalf("prefix %d of frame %d: %q, want %q (%v)", n, fi, fp.Payload, wantP, err)
		}
	}
}

// TestReaderReusesBlocks: a reader going through a connection that ended
// reads its blocks of records into buffers of its own, not into fresh
// memory for each block.
func TestReaderReusesBlocks(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	conversation(c, rand.New(rand.NewPCG(4, 4)), 6000)
	c.End(t0.Add(time.Hour))
	info, err := s.Info(0)
	if err != nil || !info.Ended {
		t.Fatalf("connection not ended: %v", err)
	}
	blocks := (info.FrameCount + info.MessageCount) / blockRecords
	r := s.NewReader()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range info.FrameCount {
		if _, err := r.FramePrefix(0, i, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range info.MessageCount {
		if _, err := r.MessageHead(0, i); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n >= uint64(blocks) {
		t.Errorf("%d allocations reading %d blocks of records in order", n, blocks)
	}
}

// TestInterleavedReaderUsesCache: a reader that goes from connection to
// connection (a sink replaying the log) puts the blocks it reads in the
// shared cache, where it finds them when it comes back; one going
// through a connection in order reads them into its own buffer and
// leaves the cache to others.
func TestInterleavedReaderUsesCache(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	for i := range 2 {
		c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
		conversation(c, rand.New(rand.NewPCG(uint64(i), 6)), 4000)
		c.End(t0.Add(time.Hour))
	}
	cached := func() int {
		s.cache.mu.Lock()
		defer s.cache.mu.Unlock()
		return len(s.cache.items)
	}
	before := cached()
	inOrder := s.NewReader()
	info, err := s.Info(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range info.MessageCount {
		if _, err := inOrder.MessageHead(0, i); err != nil {
			t.Fatal(err)
		}
	}
	if n := cached(); n != before {
		t.Errorf("a reader in order put %d blocks in the cache", n-before)
	}
	interleaved := s.newInterleavedReader()
	for i := range info.MessageCount {
		for id := range ConnID(2) {
			if _, err := interleaved.MessageHead(id, i); err != nil {
				t.Fatal(err)
			}
		}
	}
	if blocks := info.MessageCount / blockRecords; cached()-before < 2*blocks {
		t.Errorf("an interleaved reader left %d blocks in the cache, want the %d full blocks of messages it read", cached()-before, 2*blocks)
	}
}

// TestInterleavedReaderLongConnections: a reader going from connection to
// connection reads the payloads of long ones through a copy each, while
// they are still being recorded and after they ended, and gets what was
// emitted.
func TestInterleavedReaderLongConnections(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	conns := []*Conn{
		tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"}),
		tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"}),
	}
	for _, c := range conns {
		c.Feed(decode.Client, t0, []byte(upgrade))
		c.Feed(decode.Server, t0, []byte(accepted))
	}
	r := s.newInterleavedReader()
	rng := rand.New(rand.NewPCG(8, 8))
	check := func(id ConnID, i int) {
		t.Helper()
		m, err := r.Message(id, i)
		want := obs.conns[fmt.Sprint(id+1)].Messages[i].Payload
		if err != nil || !bytes.Equal(m.Payload, want) {
			t.Fatalf("connection %d, message %d: %d bytes, want %d (%v)", id, i, len(m.Payload), len(want), err)
		}
	}
	// 8 KiB or less each: past longStream, and past what waits in memory
	// to be written, so that the first are read from the file.
	const messages = 4000
	for i := range messages {
		for id, c := range conns {
			p := make([]byte, 1+rng.IntN(8<<10))
			for j := range p {
				p[j] = byte(i*7 + j*13 + id)
			}
			c.Feed(decode.Server, t0, frame(decode.OpBinary, true, 0, nil, p))
			if i > 0 {
				check(ConnID(id), rng.IntN(i)) // anywhere in what was recorded
				check(ConnID(id), i-1)
			}
		}
	}
	if len(r.copies) != 2 || s.sp.writes == 0 {
		t.Fatalf("%d copies for two long connections, %d writes to the spill file", len(r.copies), s.sp.writes)
	}
	for _, c := range conns {
		c.End(t0)
	}
	for i := range messages {
		for id := range conns {
			check(ConnID(id), i)
		}
	}
}

// TestReadWhileRecording reads each frame and message of a connection
// going on as soon as it is recorded, as the replay of the log following
// close behind does: from the current extents of both of its streams
// (compressed frames' payloads in the second), then from older ones.
func TestReadWhileRecording(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	c.Feed(decode.Client, t0, []byte(upgrade))
	c.Feed(decode.Server, t0, []byte(accepted))
	r := s.newInterleavedReader()
	rng := rand.New(rand.NewPCG(2, 2))
	check := func() {
		t.Helper()
		want := obs.conns["1"]
		fi, mi := len(want.Frames)-1, len(want.Messages)-1
		f, err := r.Frame(0, fi)
		if err != nil || !bytes.Equal(f.Payload, want.Frames[fi].Payload) {
			t.Fatalf("frame %d: %q, want %q (%v)", fi, f.Payload, want.Frames[fi].Payload, err)
		}
		m, err := r.Message(0, mi)
		if err != nil || !bytes.Equal(m.Payload, want.Messages[mi].Payload) {
			t.Fatalf("message %d: %q, want %q (%v)", mi, m.Payload, want.Messages[mi].Payload, err)
		}
		if old := rng.IntN(mi + 1); true {
			m, err := r.Message(0, old)
			if err != nil || !bytes.Equal(m.Payload, want.Messages[old].Payload) {
				t.Fatalf("message %d, read later: %v", old, err)
			}
		}
	}
	for i := range 2000 {
		p := []byte(strings.Repeat(fmt.Sprintf("message %d ", i), 1+rng.IntN(40)))
		if i%3 == 0 {
			c.Feed(decode.Server, t0, frame(decode.OpText, true, 4, nil, compress(p)))
		} else {
			c.Feed(decode.Client, t0, frame(decode.OpText, true, 0, &testKey, p))
		}
		check()
	}
}

// TestStoreLiveWritesBackSooner: a store for a live source keeps
// liveWriteBack of filled extents waiting in memory, one for a file
// writeBackBytes: the same 12 MiB of payloads are written back by the
// first and wait in memory in the second.
func TestStoreLiveWritesBackSooner(t *testing.T) {
	payload := bytes.Repeat([]byte("a live connection's payload "), 1000)
	for _, live := range []bool{false, true} {
		s := testStoreWith(t, StoreOptions{Live: live, LetGo: true})
		var st spillStream
		for n := 0; n < 12<<20; n += len(payload) {
			if _, err := s.sp.append(&st, payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.sp.flush(&st); err != nil {
			t.Fatal(err)
		}
		s.sp.mu.Lock()
		writes, waiting := s.sp.writes, s.sp.waitingBytes
		s.sp.mu.Unlock()
		switch {
		case live && (writes == 0 || waiting > liveWriteBack):
			t.Errorf("live: %d writes, %d bytes waiting; want writes and at most %d waiting", writes, waiting, liveWriteBack)
		case !live && writes != 0:
			t.Errorf("from a file: %d writes of 12 MiB, which should wait in memory", writes)
		}
	}
}

// TestStoreLog: the log says what happened in order, with the state at
// the time, and wakes who waits for it.
func TestStoreLog(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	woke := s.Changed()
	c.Feed(decode.Client, t0, []byte(upgrade))
	select {
	case <-woke:
		t.Fatal("woken before anything was recorded (the connection is not shown yet)")
	default:
	}
	c.Feed(decode.Server, t0, []byte(accepted))
	select {
	case <-woke:
	default:
		t.Fatal("not woken by the handshake")
	}
	c.Feed(decode.Client, t0, frame(decode.OpText, true, 0, &testKey, []byte("hi")))
	c.Feed(decode.Client, t0, frame(decode.OpClose, true, 0, &testKey, []byte("\x03\xe8")))
	c.End(t0)
	var got []string
	for i := range s.Items() {
		it, err := s.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %s", it.Kind, it.Index, it.State))
	}
	want := "opened 0 open,handshake 0 open,message 0 open,message 1 closing,closed 0 closed"
	if strings.Join(got, ",") != want {
		t.Errorf("log %q\nwant %q", strings.Join(got, ","), want)
	}
}

// TestStoreCompressedFramesApart: the payloads of a compressed message's
// frames, and only those, go to the connection's second stream; what is
// read back is what was emitted either way.
func TestStoreCompressedFramesApart(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	at := t0
	c.Feed(decode.Client, at, []byte(upgrade))
	c.Feed(decode.Server, at, []byte(accepted))
	whole := compress([]byte(strings.Repeat("compressed and whole ", 20)))
	parts := compress([]byte(strings.Repeat("compressed in fragments ", 20)))
	c.Feed(decode.Server, at, frame(decode.OpText, true, 4, nil, whole))
	c.Feed(decode.Client, at, frame(decode.OpText, true, 0, &testKey, []byte("plain")))
	c.Feed(decode.Server, at, frame(decode.OpBinary, false, 4, nil, parts[:5]))
	c.Feed(decode.Server, at, frame(decode.OpPing, true, 0, nil, []byte("ping between")))
	c.Feed(decode.Server, at, frame(decode.OpContinuation, true, 0, nil, parts[5:]))
	c.Feed(decode.Client, at, frame(decode.OpText, true, 0, &testKey, []byte("plain again")))
	c.End(at)
	sc, err := s.conn(0)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(whole) + len(parts)); sc.wire.appended != want {
		t.Errorf("second stream: %d bytes, want the compressed frames' %d", sc.wire.appended, want)
	}
	want := obs.conns["1"]
	if len(want.Messages) != 5 || !want.Messages[0].Compressed || !want.Messages[3].Compressed {
		t.Fatalf("decoded %d messages, not the ones sent", len(want.Messages))
	}
	r := s.NewReader()
	for i := range want.Frames {
		f, err := r.Frame(0, i)
		if err != nil || !bytes.Equal(f.Payload, want.Frames[i].Payload) {
			t.Errorf("frame %d: %q, want %q (%v)", i, f.Payload, want.Frames[i].Payload, err)
		}
	}
	for i := range want.Messages {
		m, err := r.Message(0, i)
		if err != nil || !bytes.Equal(m.Payload, want.Messages[i].Payload) {
			t.Errorf("message %d: %q, want %q (%v)", i, m.Payload, want.Messages[i].Payload, err)
		}
	}
}

// TestStoreItemsFrom reads a log of several blocks, some of them in the
// spill file, a block at a time from any place, and compares it with
// the items read one by one.
func TestStoreItemsFrom(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	c := tap.Open(&decode.Connection{ID: tap.NextID(), Source: "test"})
	conversation(c, rand.New(rand.NewPCG(3, 3)), 3000)
	n := s.Items()
	if n < 3*blockRecords {
		t.Fatalf("%d items, want more than three blocks", n)
	}
	for _, from := range []int{0, 1, blockRecords - 1, blockRecords, 2*blockRecords + 5, n - 1} {
		var got []Item
		for i := from; i < n; {
			batch, err := s.ItemsFrom(i, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 || len(batch) > blockRecords-i%blockRecords {
				t.Fatalf("%d items from %d: not the rest of one block", len(batch), i)
			}
			got = append(got, batch...)
			i += len(batch)
		}
		if len(got) != n-from {
			t.Fatalf("from %d: %d items, want %d", from, len(got), n-from)
		}
		if from == 0 {
			// The messages' items are in order, each once.
			messages := 0
			for _, it := range got {
				if it.Kind == decode.EventMessage {
					if it.Index != messages {
						t.Fatalf("message item %d has index %d", messages, it.Index)
					}
					messages++
				}
			}
			info, err := s.Info(0)
			if err != nil || messages != info.MessageCount || got[0].Kind != decode.EventOpened {
				t.Fatalf("%d message items of %d messages (%v), first %s", messages, info.MessageCount, err, got[0].Kind)
			}
		}
		for k, it := range got {
			want, err := s.Item(from + k)
			if err != nil || it != want {
				t.Fatalf("item %d: %+v, want %+v (%v)", from+k, it, want, err)
			}
		}
	}
	if _, err := s.ItemsFrom(n, nil); err == nil {
		t.Error("no error reading past the log's end")
	}
}

// TestStoreImportDerivesFramePayloads: an import gives frames without the
// payload their message repeats; the store cuts it from the message.
func TestStoreImportDerivesFramePayloads(t *testing.T) {
	s := testStore(t)
	tap := NewTap(s, TapOptions{})
	im := tap.Import()
	c := &decode.Connection{ID: "7", Source: "json"}
	im.Event(decode.Event{Kind: decode.EventOpened, Conn: c})
	for i, n := range []uint64{3, 4} {
		im.Event(decode.Event{Kind: decode.EventFrame, Conn: c, Index: i, Frame: &decode.Frame{Opcode: decode.OpText, Fin: i == 1, Length: n, Message: 0}})
	}
	im.Event(decode.Event{Kind: decode.EventMessage, Conn: c, Index: 0, Message: &decode.Message{Opcode: decode.OpText, Frames: []int{0, 1}, Payload: []byte("abcdefg"), Size: 7}})
	im.Close()
	conv, err := s.Conversation(0)
	if err != nil {
		t.Fatal(err)
	}
	if string(conv.Frames[0].Payload) != "abc" || string(conv.Frames[1].Payload) != "defg" || conv.ID != "7" || !conv.Ended {
		t.Fatalf("frames %q %q, id %q, ended %v", conv.Frames[0].Payload, conv.Frames[1].Payload, conv.ID, conv.Ended)
	}
	if ok, err := s.NewReader().Derivable(0, 0); !ok || err != nil {
		t.Errorf("derivable %v %v", ok, err)
	}
	// A second import with the same id gets another.
	im2 := tap.Import()
	im2.Event(decode.Event{Kind: decode.EventOpened, Conn: &decode.Connection{ID: "7"}})
	im2.Close()
	if info, _ := s.Info(1); info.ID == "7" || info.ID == "" {
		t.Errorf("the second connection with id 7 got id %q", info.ID)
	}
}

// TestView selects messages by what the record says and by payload, across
// connections and within one, and keeps up with what is recorded later.
func TestView(t *testing.T) {
	s := testStore(t)
	var obs observed
	tap := NewTap(s, TapOptions{Observe: obs.listen})
	for i := range 2 {
		conversation(tap.Open(&decode.Connection{ID: tap.NextID()}), rand.New(rand.NewPCG(uint64(i), 4)), 800)
	}
	fromServer := s.NewView(-1, false, func(_ *decode.Connection, m *decode.Message) bool { return m.From == decode.Server })
	withQ := s.NewView(1, true, func(_ *decode.Connection, m *decode.Message) bool { return bytes.Contains(m.Payload, []byte("qq")) })
	for _, v := range []*View{fromServer, withQ} {
		if err := v.Update(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	count := func(id string, f func(m decode.Message) bool) int {
		n := 0
		for _, m := range obs.conns[id].Messages {
			if f(m) {
				n++
			}
		}
		return n
	}
	if want := count("1", func(m decode.Message) bool { return m.From == decode.Server }) + count("2", func(m decode.Message) bool { return m.From == decode.Server }); fromServer.Len() != want || len(fromServer.Connections()) != 2 {
		t.Errorf("%d server messages in the view, want %d", fromServer.Len(), want)
	}
	if want := count("2", func(m decode.Message) bool { return bytes.Contains(m.Payload, []byte("qq")) }); withQ.Len() != want || want == 0 {
		t.Errorf("%d messages with qq in connection 2, want %d", withQ.Len(), want)
	}
	for i := range withQ.Len() {
		if ref := withQ.At(i); ref.Conn != 1 || !bytes.Contains(obs.conns["2"].Messages[ref.Index].Payload, []byte("qq")) {
			t.Fatalf("view entry %d is %+v", i, ref)
		}
	}
	before := fromServer.Len()
	conversation(tap.Open(&decode.Connection{ID: tap.NextID()}), rand.New(rand.NewPCG(3, 4)), 100)
	if err := fromServer.Update(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if fromServer.Len() <= before || len(fromServer.Connections()) != 3 {
		t.Errorf("the view did not take in the new connection: %d then %d", before, fromServer.Len())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.NewView(-1, true, nil).Update(ctx, nil); err == nil {
		t.Error("a cancelled update returned no error")
	}
}
