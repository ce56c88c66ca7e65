package capture

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// The tests in this file derive impaired captures from the real samples by
// rewriting their records (reordered, duplicated, overlapping, dropped and
// cut segments, cut files, captures that start late) and check what is
// recovered against the decode of the intact sample.

// seg is one TCP segment of a capture, located in its byte stream.
type seg struct {
	rec      int
	src, dst string
	seq      uint32
	flags    uint8
	n        int // payload bytes on the wire
	captured int
	// off is the position of the payload's first byte in the stream of its
	// direction (counted from the byte after the SYN), or -1 when the
	// direction's SYN is not in the capture.
	off int64
}

func (cf capFile) segments() []seg {
	isn := map[string]uint32{}
	var segs []seg
	for i, r := range cf.recs {
		p, ok := cf.tcpOf(r)
		if !ok {
			continue
		}
		s := seg{rec: i, src: joinAddr(p.Src.AsSlice(), p.SrcPort), dst: joinAddr(p.Dst.AsSlice(), p.DstPort),
			seq: p.Seq, flags: p.Flags, n: len(p.Payload) + p.Missing, captured: len(p.Payload), off: -1}
		if p.Flags&flagSYN != 0 {
			isn[s.src+">"+s.dst] = p.Seq + 1
		}
		if base, ok := isn[s.src+">"+s.dst]; ok {
			s.off = int64(seqDiff(base, p.Seq))
		}
		segs = append(segs, s)
	}
	return segs
}

// sender returns the address of the side that sent frames from side.
func sender(c *session.Conversation, side decode.Side) string {
	if side == decode.Client {
		return c.Client
	}
	return c.Server
}

// dirKey names the direction side sends in; seg.dir gives the same name.
func dirKey(c *session.Conversation, side decode.Side) string {
	return sender(c, side) + ">" + sender(c, side.Other())
}

func (s seg) dir() string { return s.src + ">" + s.dst }

// without returns cf without the records whose indexes drop lists.
func (cf capFile) without(drop map[int]bool) capFile {
	out := capFile{link: cf.link}
	for i, r := range cf.recs {
		if !drop[i] {
			out.recs = append(out.recs, r)
		}
	}
	return out
}

// sameFramesAndMessages compares two decodes connection by connection,
// matched by client address.
func sameFramesAndMessages(t *testing.T, got, want result) {
	t.Helper()
	compareDecodes(t, got, want, true)
}

// compareDecodes compares two decodes. Unless interleaved, only the order
// within each direction must match: when packets of the two directions
// were reordered in the capture, any order that TCP's acknowledgements
// allow is right, and the close must still come from the same side.
func compareDecodes(t *testing.T, got, want result, interleaved bool) {
	t.Helper()
	if len(got.conns) != len(want.conns) {
		t.Fatalf("%d connections, want %d", len(got.conns), len(want.conns))
	}
	for _, w := range want.conns {
		g := connByClient(got.conns, w.Client)
		if g == nil {
			t.Fatalf("connection from %s is missing", w.Client)
		}
		sides := []decode.Side{decode.Client, decode.Server}
		pick := func(sigs []string, side decode.Side) []string { return sideSigs(sigs, side) }
		if interleaved {
			sides = sides[:1]
			pick = func(sigs []string, _ decode.Side) []string { return sigs }
		}
		for _, side := range sides {
			if a, b := joinLines(pick(frameSigs(g), side)), joinLines(pick(frameSigs(w), side)); a != b {
				t.Errorf("connection from %s, frames:\n%s\nwant:\n%s", w.Client, a, b)
			}
			if a, b := joinLines(pick(messageSigs(g), side)), joinLines(pick(messageSigs(w), side)); a != b {
				t.Errorf("connection from %s, messages:\n%s\nwant:\n%s", w.Client, a, b)
			}
		}
		if (g.Close == nil) != (w.Close == nil) || (g.Close != nil && (g.Close.From != w.Close.From || g.Close.Code != w.Close.Code)) {
			t.Errorf("connection from %s: close %+v, want %+v", w.Client, g.Close, w.Close)
		}
		if (g.Response == nil) != (w.Response == nil) || g.State != w.State {
			t.Errorf("connection from %s: state %s, response %v; want %s, %v", w.Client, g.State, g.Response != nil, w.State, w.Response != nil)
		}
		if p := hasProblem(g, decode.KindMissingBytes); p != nil {
			t.Errorf("connection from %s: %s", w.Client, p.Message)
		}
	}
}

// TestReorderedDuplicatedOverlapping: segments that arrive out of order,
// twice, or overlapping each other are put back together exactly.
func TestReorderedDuplicatedOverlapping(t *testing.T) {
	variants := map[string]func(cf capFile) capFile{
		"reordered": func(cf capFile) capFile {
			out := cf.clone()
			data := cf.dataIndexes()
			for i := 0; i+1 < len(data); i += 2 {
				out.recs[data[i]], out.recs[data[i+1]] = out.recs[data[i+1]], out.recs[data[i]]
			}
			return out
		},
		"reordered by three": func(cf capFile) capFile {
			out := cf.clone()
			data := cf.dataIndexes()
			for i := 0; i+2 < len(data); i += 3 {
				a, b, c := data[i], data[i+1], data[i+2]
				out.recs[a], out.recs[b], out.recs[c] = cf.recs[c], cf.recs[a], cf.recs[b]
			}
			return out
		},
		"duplicated": func(cf capFile) capFile {
			out := capFile{link: cf.link}
			data := cf.dataIndexes()
			for i, r := range cf.recs {
				out.recs = append(out.recs, r)
				if slices.Contains(data, i) {
					out.recs = append(out.recs, r) // a retransmission
				}
				if i >= 3 && slices.Contains(data, i-3) {
					out.recs = append(out.recs, cf.recs[i-3]) // a late one
				}
			}
			return out
		},
		"overlapping": func(cf capFile) capFile {
			out := capFile{link: cf.link}
			for _, r := range cf.recs {
				p, ok := cf.tcpOf(r)
				if !ok || len(p.Payload) < 6 {
					out.recs = append(out.recs, r)
					continue
				}
				n := len(p.Payload)
				// Two segments sharing the middle third, the second sent
				// first: the overlap is found both ways.
				first := cf.withPayload(t, r, 0, p.Payload[:2*n/3])
				second := cf.withPayload(t, r, uint32(n/3), p.Payload[n/3:])
				out.recs = append(out.recs, second, first)
			}
			return out
		},
	}
	for _, name := range sampleNames(t) {
		cf := loadCapFile(t, name)
		base := decodeCapture(t, name, cf.pcap(t), Options{})
		for vname, derive := range variants {
			t.Run(name+"/"+vname, func(t *testing.T) {
				got := decodeCapture(t, name, derive(cf).pcap(t), Options{})
				if got.err != nil {
					t.Fatal(got.err)
				}
				compareDecodes(t, got, base, !strings.HasPrefix(vname, "reordered"))
			})
		}
	}
}

// TestDroppedSegments: bytes never captured are a gap of their exact size
// for the decoder, which resynchronises on the next frame: the messages
// after the gap are still decoded.
func TestDroppedSegments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sample string
		// pick chooses the frame whose segment loses bytes.
		pick func(c *session.Conversation) int
		// split, when set, cuts that segment in three and drops the middle
		// part; otherwise the whole segment is dropped.
		split bool
		// lost says which messages are expected to be gone or cut; all
		// the others must be there as before.
		lost func(m decode.Message) bool
	}{
		{
			name:   "a whole frame between others",
			sample: "ipv6-multi-sll2.pcap",
			pick: func(c *session.Conversation) int {
				for _, m := range c.Messages {
					if string(m.Payload) == "gorilla says 1" && m.From == decode.Client {
						return m.Frames[0]
					}
				}
				return -1
			},
			lost: func(m decode.Message) bool { return m.From == decode.Client && string(m.Payload) == "gorilla says 1" },
		},
		{
			name:   "a fragment of a long message",
			sample: "gorilla-basic.pcapng",
			pick: func(c *session.Conversation) int {
				for i, f := range c.Frames {
					if f.Opcode == decode.OpContinuation && i > 10 {
						return i
					}
				}
				return -1
			},
			lost: func(m decode.Message) bool { return m.Size == 66000 },
		},
		{
			name:   "the middle of a frame's payload",
			sample: "gorilla-basic.pcapng",
			pick: func(c *session.Conversation) int {
				for i, f := range c.Frames {
					if f.Length == 300 && f.From == decode.Client {
						return i
					}
				}
				return -1
			},
			split: true,
			lost:  func(m decode.Message) bool { return m.Size == 300 && m.From == decode.Client },
		},
		{
			name:   "a compressed fragment",
			sample: "gorilla-deflate.pcap",
			pick: func(c *session.Conversation) int {
				for i, f := range c.Frames {
					if f.Opcode == decode.OpContinuation && !f.Fin {
						return i
					}
				}
				return -1
			},
			lost: func(m decode.Message) bool { return m.Size == 3178 && m.From == decode.Client },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := loadCapFile(t, tc.sample)
			base := decodeCapture(t, tc.sample, cf.pcap(t), Options{})
			var conn *session.Conversation
			frame := -1
			for _, c := range base.conns {
				if frame = tc.pick(c); frame >= 0 {
					conn = c
					break
				}
			}
			if conn == nil {
				t.Fatal("no frame to drop in the sample")
			}
			f := conn.Frames[frame]
			var hit *seg
			segs := cf.segments()
			for i, s := range segs {
				if s.dir() == dirKey(conn, f.From) && s.n > 0 && s.off >= 0 && s.off <= f.Offset && f.Offset+int64(f.HeaderLen) < s.off+int64(s.n) {
					hit = &segs[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("no segment holds frame %d", frame)
			}
			impaired := cf.without(map[int]bool{hit.rec: true})
			gapAt, gapLen := hit.off, int64(hit.n)
			if tc.split {
				// Keep the first and last thirds of the segment: the gap
				// falls inside the frame's payload.
				p, _ := cf.tcpOf(cf.recs[hit.rec])
				third := len(p.Payload) / 3
				head := cf.withPayload(t, cf.recs[hit.rec], 0, p.Payload[:third])
				tail := cf.withPayload(t, cf.recs[hit.rec], uint32(2*third), p.Payload[2*third:])
				impaired = capFile{link: cf.link}
				for i, r := range cf.recs {
					if i == hit.rec {
						impaired.recs = append(impaired.recs, head, tail)
						continue
					}
					impaired.recs = append(impaired.recs, r)
				}
				gapAt, gapLen = hit.off+int64(third), int64(third)
			}
			got := decodeCapture(t, tc.sample, impaired.pcap(t), Options{})
			c := connByClient(got.conns, conn.Client)
			if c == nil {
				t.Fatal("the connection is gone")
			}
			p := hasProblem(c, decode.KindMissingBytes)
			if p == nil || p.Offset != gapAt || !strings.HasPrefix(p.Message, fmt.Sprintf("%d bytes", gapLen)) {
				t.Fatalf("want a missing-bytes problem of %d bytes at offset %d, got %v (problems %q)", gapLen, gapAt, p, problemKinds(c))
			}
			have := map[string]int{}
			for _, m := range c.Messages {
				have[messageSig(m)]++
			}
			for _, m := range conn.Messages {
				if tc.lost(m) {
					if have[messageSig(m)] > 0 {
						t.Errorf("message %s survived a gap inside it", messageSig(m))
					}
					continue
				}
				if have[messageSig(m)] == 0 {
					t.Errorf("message %s is lost", messageSig(m))
				}
				have[messageSig(m)]--
			}
		})
	}
}

// missingRanges returns, per direction, the stream ranges a capture
// lost to the snap length.
func missingRanges(segs []seg) map[string][][2]int64 {
	m := map[string][][2]int64{}
	for _, s := range segs {
		if s.captured < s.n && s.off >= 0 {
			m[s.dir()] = append(m[s.dir()], [2]int64{s.off + int64(s.captured), s.off + int64(s.n)})
		}
	}
	return m
}

func overlaps(rs [][2]int64, a, b int64) bool {
	for _, r := range rs {
		if a < r[1] && r[0] < b {
			return true
		}
	}
	return false
}

// TestSnapLength: packets the snap length cut lose their tail, and only
// that: every frame clear of the lost bytes is decoded as before, the lost
// bytes are gaps of their exact size, and a warning names the packets.
func TestSnapLength(t *testing.T) {
	const snaplen = 1000
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			cf := loadCapFile(t, name)
			base := decodeCapture(t, name, cf.pcap(t), Options{})
			cut := cf.clone()
			for i := range cut.recs {
				if len(cut.recs[i].data) > snaplen {
					cut.recs[i].data = cut.recs[i].data[:snaplen]
				}
			}
			missing := missingRanges(cut.segments())
			got := decodeCapture(t, name, cut.pcap(t), Options{})
			if got.err != nil {
				t.Fatal(got.err)
			}
			if len(missing) == 0 {
				if got.stats.CutPackets != 0 {
					t.Fatalf("%d packets counted as cut, none is", got.stats.CutPackets)
				}
				return // nothing in this sample is longer than the snap length
			}
			if !strings.Contains(strings.Join(got.warnings, "\n"), "snap length") {
				t.Errorf("no warning about the snap length in %q", got.warnings)
			}
			var gapBytes int64
			for _, w := range base.conns {
				g := connByClient(got.conns, w.Client)
				if g == nil {
					t.Fatalf("connection from %s is lost", w.Client)
				}
				for _, p := range g.Problems {
					if p.Kind == decode.KindMissingBytes {
						var n int64
						fmt.Sscanf(p.Message, "%d", &n)
						gapBytes += n
					}
				}
				have := map[string]bool{}
				for _, f := range g.Frames {
					have[fmt.Sprint(f.Offset, frameSig(f))] = true
				}
				for _, f := range w.Frames {
					if overlaps(missing[dirKey(w, f.From)], f.Offset, f.Offset+int64(f.HeaderLen)+int64(f.Length)) {
						continue
					}
					if !have[fmt.Sprint(f.Offset, frameSig(f))] {
						t.Errorf("connection from %s: frame at %d (%s) is lost", w.Client, f.Offset, frameSig(f))
					}
				}
			}
			if gapBytes != got.stats.CutBytes {
				t.Errorf("gaps add up to %d bytes, the snap length cut %d", gapBytes, got.stats.CutBytes)
			}
		})
	}
}

// TestCutFile: a file cut in the middle of a record still yields every
// frame that lies wholly before the cut, and says that it was cut.
func TestCutFile(t *testing.T) {
	for _, name := range sampleNames(t) {
		cf := loadCapFile(t, name)
		full := cf.pcap(t)
		base := decodeCapture(t, name, full, Options{})
		for _, frac := range []int{30, 55, 80} {
			t.Run(fmt.Sprintf("%s/%d%%", name, frac), func(t *testing.T) {
				// Find the record boundary nearest the fraction and cut in
				// the middle of the record after it.
				at, end := 24, 24
				whole := capFile{link: cf.link}
				for i, r := range cf.recs {
					next := at + 16 + len(r.data)
					if next*100 > len(full)*frac && len(r.data) > 2 {
						end = at + 16 + len(r.data)/2
						whole.recs = cf.recs[:i] // the whole records before the cut
						break
					}
					at = next
				}
				got := decodeCapture(t, name, full[:end], Options{})
				if !errors.Is(got.err, ErrTruncated) {
					t.Fatalf("err %v, want ErrTruncated", got.err)
				}
				// What the whole records before the cut carry, per sender.
				covered := map[string]int64{}
				for _, s := range whole.segments() {
					if s.off >= 0 && s.off+int64(s.n) > covered[s.dir()] {
						covered[s.dir()] = s.off + int64(s.n)
					}
				}
				for _, w := range base.conns {
					g := connByClient(got.conns, w.Client)
					for _, f := range w.Frames {
						if f.Offset+int64(f.HeaderLen)+int64(f.Length) > covered[dirKey(w, f.From)] {
							continue
						}
						if g == nil {
							t.Fatalf("connection from %s is lost, but its frame at %d was before the cut", w.Client, f.Offset)
						}
						if !slices.ContainsFunc(g.Frames, func(x decode.Frame) bool { return x.Offset == f.Offset && frameSig(x) == frameSig(f) }) {
							t.Errorf("connection from %s: frame at %d (%s) was before the cut but is lost", w.Client, f.Offset, frameSig(f))
						}
					}
				}
			})
		}
	}
}

// handshakeRecords returns the records of connection c up to its last
// handshake segment: what a capture that began after the handshake lacks.
func handshakeRecords(cf capFile, c *session.Conversation) map[int]bool {
	first := map[string]int64{}
	for _, side := range []decode.Side{decode.Client, decode.Server} {
		first[sender(c, side)] = -1
	}
	for _, f := range c.Frames {
		if a := sender(c, f.From); first[a] < 0 {
			first[a] = f.Offset
		}
	}
	last := -1
	for _, s := range cf.segments() {
		if _, ok := first[s.src]; !ok || (s.dst != c.Client && s.dst != c.Server) {
			continue
		}
		if s.n > 0 && s.off >= 0 && s.off+int64(s.n) <= first[s.src] {
			last = max(last, s.rec)
		}
	}
	drop := map[int]bool{}
	for _, s := range cf.segments() {
		if s.rec <= last && (s.src == c.Client || s.src == c.Server) && (s.dst == c.Client || s.dst == c.Server) {
			drop[s.rec] = true
		}
	}
	return drop
}

// TestHandshakeMissing: a capture that began after the Upgrade still shows
// the connection from its framing: the same frames, roles from the
// masking, and a problem saying the handshake is missing.
func TestHandshakeMissing(t *testing.T) {
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			cf := loadCapFile(t, name)
			base := decodeCapture(t, name, cf.pcap(t), Options{})
			drop := map[int]bool{}
			var ws []*session.Conversation
			for _, c := range base.conns {
				if c.Response == nil || c.Response.Status != 101 {
					continue
				}
				ws = append(ws, c)
				for r := range handshakeRecords(cf, c) {
					drop[r] = true
				}
			}
			got := decodeCapture(t, name, cf.without(drop).pcap(t), Options{})
			for _, w := range ws {
				g := connByClient(got.conns, w.Client)
				if g == nil {
					t.Fatalf("connection from %s is not recognised without its handshake", w.Client)
				}
				if g.Server != w.Server {
					t.Errorf("server %s, want %s: roles come from the masking", g.Server, w.Server)
				}
				if hasProblem(g, decode.KindHandshakeMissing) == nil {
					t.Errorf("no %s problem: %q", decode.KindHandshakeMissing, problemKinds(g))
				}
				// Without a handshake, frames are taken for frames once the
				// next headers confirm them, so the two directions may
				// interleave differently; each direction is the same.
				for _, side := range []decode.Side{decode.Client, decode.Server} {
					if a, b := joinLines(sideSigs(frameSigs(g), side)), joinLines(sideSigs(frameSigs(w), side)); a != b {
						t.Errorf("%s frames:\n%s\nwant:\n%s", side, a, b)
					}
					// Nothing was missed before the first message, so even
					// a compression context is whole.
					if a, b := joinLines(sideSigs(messageSigs(g), side)), joinLines(sideSigs(messageSigs(w), side)); a != b {
						t.Errorf("%s messages:\n%s\nwant:\n%s", side, a, b)
					}
				}
			}
		})
	}
}

// sideSigs keeps the signatures of one side's frames or messages.
func sideSigs(sigs []string, side decode.Side) []string {
	var out []string
	for _, s := range sigs {
		if strings.HasPrefix(s, side.String()+" ") {
			out = append(out, s)
		}
	}
	return out
}

// TestCompressionContextMissing: when the capture also missed the first
// messages of a connection with context takeover, the later messages refer
// to bytes it never saw. They are shown compressed with a problem saying
// so, never inflated into garbage.
func TestCompressionContextMissing(t *testing.T) {
	for _, name := range []string{"coder-takeover-sll.pcap", "chromium-deflate.pcapng"} {
		t.Run(name, func(t *testing.T) {
			cf := loadCapFile(t, name)
			base := decodeCapture(t, name, cf.pcap(t), Options{})
			var w *session.Conversation
			for _, c := range base.conns {
				if c.Deflate != nil {
					w = c
				}
			}
			if w == nil {
				t.Fatal("no compressed connection in the sample")
			}
			drop := handshakeRecords(cf, w)
			// Also drop the first two data segments each way, and
			// everything of the connection before them.
			dirs := map[string]int{dirKey(w, decode.Client): 0, dirKey(w, decode.Server): 0}
			last := -1
			for _, s := range cf.segments() {
				if n, ok := dirs[s.dir()]; ok && !drop[s.rec] && s.n > 0 && n < 2 {
					dirs[s.dir()]++
					last = s.rec
				}
			}
			for _, s := range cf.segments() {
				if _, ok := dirs[s.dir()]; ok && s.rec <= last {
					drop[s.rec] = true
				}
			}
			got := decodeCapture(t, name, cf.without(drop).pcap(t), Options{})
			g := connByClient(got.conns, w.Client)
			if g == nil {
				t.Fatal("the connection is not recognised")
			}
			lost := 0
			for _, m := range g.Messages {
				if !m.Compressed {
					continue
				}
				if m.Raw {
					lost++
					continue
				}
				// What did inflate must be what was sent.
				if !slices.ContainsFunc(w.Messages, func(x decode.Message) bool { return bytes.Equal(x.Payload, m.Payload) }) {
					t.Errorf("message inflated to %q, which was never sent", m.Payload)
				}
			}
			p := hasProblem(g, decode.KindContextLost)
			if lost == 0 || p == nil {
				t.Fatalf("%d messages kept compressed, problem %v; want some, with %s", lost, p, decode.KindContextLost)
			}
			if hasProblem(g, decode.KindInflateFailed) != nil {
				t.Errorf("a lost context is reported as a corrupt message: %q", problemKinds(g))
			}
		})
	}
}

// TestMissingSYN: connections whose SYN and SYN-ACK were not captured are
// decoded as if they were.
func TestMissingSYN(t *testing.T) {
	for _, name := range sampleNames(t) {
		t.Run(name, func(t *testing.T) {
			cf := loadCapFile(t, name)
			base := decodeCapture(t, name, cf.pcap(t), Options{})
			drop := map[int]bool{}
			for _, s := range cf.segments() {
				if s.flags&flagSYN != 0 {
					drop[s.rec] = true
				}
			}
			got := decodeCapture(t, name, cf.without(drop).pcap(t), Options{})
			sameFramesAndMessages(t, got, base)
			for _, w := range base.conns {
				if g := connByClient(got.conns, w.Client); g.Server != w.Server || len(g.Problems) != len(w.Problems) {
					t.Errorf("connection from %s: server %s, problems %q; want %s, %q", w.Client, g.Server, problemKinds(g), w.Server, problemKinds(w))
				}
			}
		})
	}
}

// FuzzImpairedCapture: whatever is done to a real capture's segments
// (moved, dropped, repeated, split, cut, their sequence numbers shifted),
// decoding it does not panic and hands every connection out once.
func FuzzImpairedCapture(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{9, 200, 3, 77, 150, 8, 250, 1, 1, 1, 44, 90})
	f.Add([]byte{255, 254, 253, 0, 0, 0, 128, 64, 32, 16})
	f.Fuzz(func(t *testing.T, ops []byte) { runFuzzOps(t, ops) })
}

// runFuzzOps impairs gorilla-fragments as ops say and decodes it.
func runFuzzOps(t *testing.T, ops []byte) {
	cf := loadCapFile(t, "gorilla-fragments.pcap.gz")
	out := cf.clone()
	for i := 0; i+1 < len(ops) && len(out.recs) > 1; i += 2 {
		a := int(ops[i+1]) % len(out.recs)
		b := (a + 1 + int(ops[i]>>3)) % len(out.recs)
		switch ops[i] % 6 {
		case 0: // move
			out.recs[a], out.recs[b] = out.recs[b], out.recs[a]
		case 1: // drop
			out.recs = append(out.recs[:a], out.recs[a+1:]...)
		case 2: // repeat later
			out.recs = append(out.recs, out.recs[a])
		case 3: // split the payload, overlapping
			if p, ok := out.tcpOf(out.recs[a]); ok && len(p.Payload) > 3 {
				n := len(p.Payload)
				x := out.withPayload(t, out.recs[a], uint32(n/3), p.Payload[n/3:])
				y := out.withPayload(t, out.recs[a], 0, p.Payload[:2*n/3])
				out.recs[a] = x
				out.recs = append(out.recs, y)
			}
		case 4: // cut by a snap length
			r := out.recs[a]
			r.data = r.data[:len(r.data)*int(ops[i]%7+1)/8]
			out.recs[a] = r
		case 5: // shift the sequence number
			if p, ok := out.tcpOf(out.recs[a]); ok && len(p.Payload) > 0 {
				out.recs[a] = out.withPayload(t, out.recs[a], uint32(ops[i])*977, p.Payload)
			}
		}
	}
	res := decodeCapture(t, "fuzz", out.pcap(t), Options{})
	seen := map[*session.Conversation]bool{}
	for _, c := range res.conns {
		if seen[c] {
			t.Fatalf("connection %s handed out twice", c.ID)
		}
		seen[c] = true
	}
}
