package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/internal/testpeer"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// samplesDir holds the captures made from real peers (see samples/README.md).
const samplesDir = "../samples"

// requirePeer skips the test when program is not installed, or fails it
// in CI (testpeer.Require).
func requirePeer(t testing.TB, program string) string {
	t.Helper()
	return testpeer.Require(t, program)
}

// sampleNames lists the sample captures.
func sampleNames(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, pat := range []string{"*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz"} {
		m, err := filepath.Glob(filepath.Join(samplesDir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			names = append(names, filepath.Base(p))
		}
	}
	if len(names) < 6 {
		t.Fatalf("found %d samples in %s, want at least 6", len(names), samplesDir)
	}
	return names
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// capRecord is one record of a capture being rewritten by a test.
type capRecord struct {
	ts   time.Time
	orig int
	data []byte
}

// capFile is a capture taken apart into records with gopacket's own
// readers (an implementation independent of this package's), so that
// tests can derive impaired variants and write them back out.
type capFile struct {
	link LinkType
	recs []capRecord
}

func gunzipIf(t testing.TB, b []byte) []byte {
	t.Helper()
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// loadCapFile reads a sample with pcapgo.
func loadCapFile(t testing.TB, name string) capFile {
	t.Helper()
	return parseCapFile(t, gunzipIf(t, readSample(t, name)))
}

func parseCapFile(t testing.TB, b []byte) capFile {
	t.Helper()
	type src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r src
	var cf capFile
	if binary.LittleEndian.Uint32(b) == blockSHB {
		ng, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		cf.link = LinkType(ng.LinkType())
		r = ng
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		// gopacket's LinkType is a byte: SLL2 (276) does not fit, so the
		// header field is read here.
		cf.link = LinkType(binary.LittleEndian.Uint32(b[20:24]) & 0xffff)
		r = pr
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		cf.recs = append(cf.recs, capRecord{ts: ci.Timestamp, orig: ci.Length, data: data})
	}
	return cf
}

// pcap writes the records as a little-endian nanosecond pcap file (by
// hand: gopacket's writer takes the link type as a byte, which SLL2 does
// not fit).
func (cf capFile) pcap(t testing.TB) []byte {
	t.Helper()
	le := binary.LittleEndian
	b := le.AppendUint32(nil, pcapMagicNano)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint32(b, 262144)
	b = le.AppendUint32(b, uint32(cf.link))
	for _, r := range cf.recs {
		b = le.AppendUint32(b, uint32(r.ts.Unix()))
		b = le.AppendUint32(b, uint32(r.ts.Nanosecond()))
		b = le.AppendUint32(b, uint32(len(r.data)))
		b = le.AppendUint32(b, uint32(max(r.orig, len(r.data))))
		b = append(b, r.data...)
	}
	return b
}

func (cf capFile) clone() capFile {
	out := capFile{link: cf.link, recs: make([]capRecord, len(cf.recs))}
	for i, r := range cf.recs {
		r.data = bytes.Clone(r.data)
		out.recs[i] = r
	}
	return out
}

// tcpOf decodes a record down to TCP with this package's decoder.
func (cf capFile) tcpOf(r capRecord) (Packet, bool) {
	var p Packet
	ok := decodePacket(cf.link, r.data, r.orig, &p) == skipNone
	return p, ok
}

// dataIndexes returns the indexes of the records that carry TCP payload.
func (cf capFile) dataIndexes() []int {
	var idx []int
	for i, r := range cf.recs {
		if p, ok := cf.tcpOf(r); ok && len(p.Payload) > 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// ipOffset returns where the IP header starts in a record of the link
// types the samples use.
func (cf capFile) ipOffset(t testing.TB, data []byte) int {
	t.Helper()
	switch cf.link {
	case LinkEthernet:
		off := 14
		for et := binary.BigEndian.Uint16(data[12:14]); et == etherVLAN || et == etherQinQ; et = binary.BigEndian.Uint16(data[off-2 : off]) {
			off += 4
		}
		return off
	case LinkLinuxSLL:
		return 16
	case LinkLinuxSLL2:
		return 20
	case LinkNull, LinkLoop:
		return 4
	case LinkRaw, LinkIPv4, LinkIPv6:
		return 0
	}
	t.Fatalf("no IP offset for %s", cf.link)
	return 0
}

// withPayload returns a copy of the TCP segment in r whose sequence number
// is moved by delta and whose payload is payload, with the IP length fixed.
func (cf capFile) withPayload(t testing.TB, r capRecord, delta uint32, payload []byte) capRecord {
	t.Helper()
	p, ok := cf.tcpOf(r)
	if !ok {
		t.Fatal("not a TCP segment")
	}
	tcpOff := cap(r.data) - cap(p.TCP)
	hlen := len(p.TCP) - len(p.Payload)
	ipOff := cf.ipOffset(t, r.data)
	b := append(bytes.Clone(r.data[:tcpOff+hlen]), payload...)
	binary.BigEndian.PutUint32(b[tcpOff+4:], p.Seq+delta)
	ipLen := len(b) - ipOff
	if b[ipOff]>>4 == 4 {
		binary.BigEndian.PutUint16(b[ipOff+2:], uint16(ipLen))
	} else {
		binary.BigEndian.PutUint16(b[ipOff+4:], uint16(ipLen-40))
	}
	return capRecord{ts: r.ts, orig: len(b), data: b}
}

// result is what decoding a capture produced.
type result struct {
	conns    []*session.Conversation // in the order they ended
	items    []session.Item          // the store's log
	warnings []string
	err      error
	stats    Stats
}

// testTap is a store and a tap on it, removed when the test ends.
type testTap struct {
	t     testing.TB
	store *session.Store
	tap   *session.Tap
}

func newTestTap(t testing.TB) *testTap {
	t.Helper()
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testTap{t: t, store: st, tap: session.NewTap(st, session.TapOptions{})}
}

// ended returns the connections that ended so far, whole, in the order
// they ended.
func (tt *testTap) ended() []*session.Conversation {
	tt.t.Helper()
	conns, err := tt.store.Ended()
	if err != nil {
		tt.t.Fatal(err)
	}
	return conns
}

// waitEnded waits, at most 10 s, until n connections ended, and reports
// whether they did. The store may be read while a tracker records into it
// on another goroutine.
func (tt *testTap) waitEnded(n int) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(tt.ended()) >= n {
			return true
		}
	}
	return false
}

// items returns the store's log.
func (tt *testTap) items() []session.Item {
	tt.t.Helper()
	var items []session.Item
	for i := range tt.store.Items() {
		it, err := tt.store.Item(i)
		if err != nil {
			tt.t.Fatal(err)
		}
		items = append(items, it)
	}
	return items
}

// decodeCapture decodes a whole capture held in memory, on a tap of its
// own unless opts has one.
func decodeCapture(t testing.TB, name string, data []byte, opts Options) result {
	t.Helper()
	rd, _, err := Open(name, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var res result
	tt := &testTap{t: t}
	if opts.Tap == nil {
		tt = newTestTap(t)
		opts.Tap = tt.tap
	} else {
		tt.store, tt.tap = opts.Tap.Store(), opts.Tap
	}
	opts.Warn = func(s string) { res.warnings = append(res.warnings, s) }
	tr := NewTracker(opts)
	res.err = Run(context.Background(), rd, tr, RunOptions{})
	tr.Close()
	res.stats = tr.Stats()
	res.conns = tt.ended()
	res.items = tt.items()
	return res
}

func decodeSample(t testing.TB, name string) result {
	t.Helper()
	r := decodeCapture(t, name, readSample(t, name), Options{})
	if r.err != nil {
		t.Fatalf("%s: %v", name, r.err)
	}
	return r
}

// frameSig describes a frame by what the wire says, for comparisons.
func frameSig(f decode.Frame) string {
	return fmt.Sprintf("%s op=%d fin=%v rsv=%d mask=%v len=%d", f.From, f.Opcode, f.Fin, f.Rsv, f.Masked, f.Length)
}

// messageSig describes a message by its decoded content.
func messageSig(m decode.Message) string {
	p := m.Payload
	if len(p) > 48 {
		p = p[:48]
	}
	return fmt.Sprintf("%s %s size=%d compressed=%v raw=%v truncated=%v %q", m.From, m.Opcode, m.Size, m.Compressed, m.Raw, m.Truncated, p)
}

func messageSigs(c *session.Conversation) []string {
	var s []string
	for _, m := range c.Messages {
		s = append(s, messageSig(m))
	}
	return s
}

func frameSigs(c *session.Conversation) []string {
	var s []string
	for _, f := range c.Frames {
		s = append(s, frameSig(f))
	}
	return s
}

// byAddr returns the connection whose client or server is addr.
func connByClient(conns []*session.Conversation, client string) *session.Conversation {
	for _, c := range conns {
		if c.Client == client {
			return c
		}
	}
	return nil
}

func problemKinds(c *session.Conversation) []string {
	var k []string
	for _, p := range c.Problems {
		k = append(k, string(p.Kind))
	}
	return k
}

func hasProblem(c *session.Conversation, kind decode.Kind) *decode.Problem {
	for i := range c.Problems {
		if c.Problems[i].Kind == kind {
			return &c.Problems[i]
		}
	}
	return nil
}

func joinLines(s []string) string { return strings.Join(s, "\n") }

// echoWS is a gorilla WebSocket handler that sends every message back with
// prefix in front, until the client goes away.
func echoWS(up *websocket.Upgrader, prefix string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
			if c.WriteMessage(typ, append([]byte(prefix), msg...)) != nil {
				return
			}
		}
	}
}
