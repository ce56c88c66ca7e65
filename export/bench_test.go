package export_test

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// BenchmarkJSONWriter writes the recorded session (3 connections, 17
// messages) per iteration.
func BenchmarkJSONWriter(b *testing.B) {
	conns := benchSession(b)
	b.SetBytes(int64(len(writeJSON(b, export.Options{}, conns...))))
	b.ReportAllocs()
	for b.Loop() {
		w := export.NewJSONWriter(io.Discard, export.Options{})
		for _, c := range conns {
			w.Write(c)
		}
		w.Close()
	}
}

// BenchmarkHARWriter is BenchmarkJSONWriter for the HAR.
func BenchmarkHARWriter(b *testing.B) {
	conns := benchSession(b)
	b.SetBytes(int64(len(writeHAR(b, export.Options{}, conns...))))
	b.ReportAllocs()
	for b.Loop() {
		w := export.NewHARWriter(io.Discard, export.Options{})
		for _, c := range conns {
			w.Write(c)
		}
		w.Close()
	}
}

// BenchmarkStreamingMemory hands b.N connections to one JSON and one HAR
// writer, as a long capture does, and reports the heap still in use per
// connection afterwards: a streaming writer keeps none of them.
func BenchmarkStreamingMemory(b *testing.B) {
	conns := benchSession(b)
	j := export.NewJSONWriter(io.Discard, export.Options{})
	h := export.NewHARWriter(io.Discard, export.Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := conns[i%len(conns)]
		j.Write(c)
		h.Write(c)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(b.N), "heap-B/conn")
	j.Close()
	h.Close()
}

// BenchmarkLargeMessage writes a connection holding one 16 MiB binary
// message: base64 goes straight into the output buffer, so the writer
// allocates a small fraction of the payload.
func BenchmarkLargeMessage(b *testing.B) {
	payload := bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7}, 2<<20)
	at := time.Date(2026, 11, 21, 5, 26, 41, 0, time.UTC)
	c := &session.Conversation{Connection: decode.Connection{ID: "1"},
		Frames:   []decode.Frame{{From: decode.Server, Time: at, Fin: true, Opcode: decode.OpBinary, Length: uint64(len(payload)), HeaderLen: 10, Payload: payload}},
		Messages: []decode.Message{{From: decode.Server, Time: at, Opcode: decode.OpBinary, Frames: []int{0}, Size: int64(len(payload)), Payload: payload}}}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		w := export.NewJSONWriter(io.Discard, export.Options{})
		w.Write(c)
		w.Close()
	}
}

// BenchmarkNDJSON writes the events of the session, replayed from the
// store as the commands follow it.
func BenchmarkNDJSON(b *testing.B) {
	st := newTestStore(b)
	tap := session.NewTap(st, session.TapOptions{})
	for i, sc := range scripts() {
		s, err := readStream("testdata/streams/" + sc.name + ".txt")
		if err != nil {
			b.Fatal(err)
		}
		decodeInto(tap, string(rune('1'+i)), s)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.FollowEvents(export.NewNDJSONWriter(io.Discard, export.Options{})).Finish(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad reads the session back from JSON and from HAR.
func BenchmarkLoad(b *testing.B) {
	conns := benchSession(b)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"json", writeJSON(b, export.Options{}, conns...)},
		{"har", writeHAR(b, export.Options{}, conns...)},
	} {
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(f.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := export.Load(f.name, bytes.NewReader(f.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchSession decodes the recorded session into a store and returns its
// connections as the writers read them there.
func benchSession(b *testing.B) []session.ConnSource {
	b.Helper()
	st := newTestStore(b)
	tap := session.NewTap(st, session.TapOptions{})
	var conns []session.ConnSource
	for i, sc := range scripts() {
		s, err := readStream("testdata/streams/" + sc.name + ".txt")
		if err != nil {
			b.Fatal(err)
		}
		decodeInto(tap, string(rune('1'+i)), s)
		src, err := st.Source(session.ConnID(i))
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, src)
	}
	return conns
}

// BenchmarkJSONLongConnection writes one connection of 20,000 frames and
// messages held in memory (JSON text like a market feed's, a server frame
// and message each), as the long capture's connections are: the cost of
// rendering, without reading the store.
func BenchmarkJSONLongConnection(b *testing.B) {
	const n = 20000
	t0 := time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)
	c := &session.Conversation{Connection: decode.Connection{ID: "1", Client: "10.1.0.1:1040", Server: "10.0.0.1:80", State: decode.StateClosed, Opened: t0}}
	var offset int64
	for i := range n {
		at := t0.Add(time.Duration(i) * 213 * time.Microsecond)
		payload := []byte(`{"type":"ticker","product_id":"LTC-GBP","price":"13904.13","best_bid":"13877.47","best_ask":"13906.22","seq":` + string(rune('0'+i%10)) + `}`)
		c.Frames = append(c.Frames, decode.Frame{From: decode.Server, Time: at, Offset: offset, Fin: true, Opcode: decode.OpText,
			Length: uint64(len(payload)), HeaderLen: 2, Message: i, Payload: payload})
		c.Messages = append(c.Messages, decode.Message{From: decode.Server, Time: at, LastTime: at, Opcode: decode.OpText,
			Frames: []int{i}, WireSize: int64(len(payload) + 2), Size: int64(len(payload)), TextValid: true, Payload: payload})
		offset += int64(len(payload) + 2)
	}
	c.Connection.FrameCount, c.Connection.MessageCount = n, n
	size := len(writeJSON(b, export.Options{}, c))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		w := export.NewJSONWriter(io.Discard, export.Options{})
		if err := w.Write(c); err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}
