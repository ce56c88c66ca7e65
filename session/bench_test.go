package session

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wstap/wstap/decode"
)

// fillStore records n single-frame messages of about 100 bytes, a quarter
// from the server, on conns connections, straight into the store (no
// decoder): what the store costs on its own.
func fillStore(tb testing.TB, s *Store, conns, n int) {
	tb.Helper()
	payload := bytes.Repeat([]byte(`{"type":"tick","price":123.45,"qty":7,"id":"abcdef0123456789"}`), 2)
	scs := make([]*storedConn, conns)
	cs := make([]*decode.Connection, conns)
	for i := range conns {
		cs[i] = &decode.Connection{ID: string(rune('a' + i)), Source: "bench", State: decode.StateOpen}
		s.mu.Lock()
		_, scs[i] = s.add(cs[i], "")
		s.mu.Unlock()
	}
	f := decode.Frame{Fin: true, Opcode: decode.OpText, Masked: true, MaskKey: [4]byte{1, 2, 3, 4}, HeaderLen: 6}
	m := decode.Message{Opcode: decode.OpText, TextValid: true, Frames: []int{0}}
	for i := range n {
		k := i % conns
		c := cs[k]
		f.From = decode.Client
		if i%4 == 3 {
			f.From = decode.Server
		}
		p := payload[:60+i%64]
		f.Payload, f.Length, f.Message, f.Offset = p, uint64(len(p)), c.MessageCount, int64(i*200)
		s.record(scs[k], decode.Event{Kind: decode.EventFrame, Conn: c, Index: c.FrameCount, Frame: &f}, decode.StateOpen, false, nil)
		m.From, m.Payload, m.Size, m.WireSize = f.From, p, int64(len(p)), int64(len(p)+6)
		m.Frames[0] = c.FrameCount
		s.record(scs[k], decode.Event{Kind: decode.EventMessage, Conn: c, Index: c.MessageCount, Message: &m}, decode.StateOpen, false, nil)
		c.FrameCount++
		c.MessageCount++
	}
}

// BenchmarkStoreAppend: frames and messages recorded per second, with
// their payloads spilled.
func BenchmarkStoreAppend(b *testing.B) {
	s := testStore(b)
	const batch = 100000
	b.ReportAllocs()
	for b.Loop() {
		fillStore(b, s, 20, batch)
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
}

// BenchmarkStoreMillion builds a store of a million messages on 20
// connections once, then measures: a message with its payload read at
// random (most from the spill file), a page of 50 message heads, and a
// filtered view over all of them (by direction, and by payload text).
func BenchmarkStoreMillion(b *testing.B) {
	const n = 1_000_000
	s := testStore(b)
	fillStore(b, s, 20, n)
	b.Run("random-message", func(b *testing.B) {
		r := s.NewReader()
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if _, err := r.Message(ConnID(rng.IntN(20)), rng.IntN(n/20)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page-of-50", func(b *testing.B) {
		r := s.NewReader()
		rng := rand.New(rand.NewPCG(3, 4))
		for b.Loop() {
			start := rng.IntN(n/20 - 50)
			for i := start; i < start+50; i++ {
				if _, err := r.MessageHead(7, i); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("view-by-direction", func(b *testing.B) {
		for b.Loop() {
			v := s.NewView(-1, false, func(_ *decode.Connection, m *decode.Message) bool { return m.From == decode.Server })
			if err := v.Update(context.Background(), nil); err != nil || v.Len() != n/4 {
				b.Fatalf("%d selected, %v", v.Len(), err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	})
	b.Run("view-by-text", func(b *testing.B) {
		for b.Loop() {
			v := s.NewView(-1, true, func(_ *decode.Connection, m *decode.Message) bool {
				return bytes.Contains(m.Payload, []byte(`"qty":7,"id"`))
			})
			if err := v.Update(context.Background(), nil); err != nil || v.Len() != n {
				b.Fatalf("%d selected, %v", v.Len(), err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "messages/s")
	})
}
