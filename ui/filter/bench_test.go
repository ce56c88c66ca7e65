package filter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wstap/wstap/decode"
)

// record is a message of the benchmark as a store keeps it: compact, its
// payload in one shared buffer. The benchmark fills one decode.Message
// per record and matches it, as session.View does.
type record struct {
	off, n uint32
	side   decode.Side
	op     decode.Opcode
}

// benchMessages makes n small messages, mostly JSON text of 20-80
// bytes, some binary, pings and pongs, from both sides.
func benchMessages(n int) ([]record, []byte) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"update", "ack", "subscribe", "price", "tick", "order", "cancel", "heartbeat"}
	var buf []byte
	recs := make([]record, n)
	for i := range recs {
		r := record{off: uint32(len(buf)), side: decode.Side(rng.IntN(2)), op: decode.OpText}
		switch k := rng.IntN(20); {
		case k == 0:
			r.op = decode.OpPing
		case k == 1:
			r.op = decode.OpPong
		case k < 4:
			r.op = decode.OpBinary
			buf = append(buf, 0, 1, 2, 3, byte(i), byte(i>>8), 0xff, 0x7f)
		default:
			buf = fmt.Appendf(buf, `{"id":%d,"type":%q,"value":%d}`, i, words[rng.IntN(len(words))], rng.IntN(1e6))
			if rng.IntN(1000) == 0 {
				buf = append(buf, ` "needle"`...)
			}
		}
		r.n = uint32(len(buf)) - r.off
		recs[i] = r
	}
	return recs, buf
}

// BenchmarkMatch matches a million small messages; ns/msg is the time a
// message, fill included.
//
//	go test ./ui/filter -run '^$' -bench Match -benchmem
func BenchmarkMatch(b *testing.B) {
	const n = 1 << 20
	recs, buf := benchMessages(n)
	c := &decode.Connection{ID: "1", URL: "ws://example.com/feed", Server: "10.0.0.1:80"}
	for _, expr := range []string{
		"", // the baseline: filling the message and the call
		"client",
		"client text -control",
		"needle",
		"NEEDLE",
		`case:"needle"`,
		`"cancel" size>40`,
		"/\"value\":99\\d{4}/",
		"zoë",
		"url:feed server (text or binary) size>=50",
	} {
		f, err := Parse(expr)
		if err != nil {
			b.Fatal(err)
		}
		name := expr
		if name == "" {
			name = "all"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var m decode.Message
			matched := 0
			for b.Loop() {
				for i := range recs {
					r := &recs[i]
					m = decode.Message{From: r.side, Opcode: r.op, Size: int64(r.n), WireSize: int64(r.n) + 6,
						Payload: buf[r.off : r.off+r.n], TextValid: r.op == decode.OpText}
					if f.Match(c, &m) {
						matched++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
			b.ReportMetric(float64(matched)/float64(b.N), "matched")
		})
	}
}

// BenchmarkMatchLarge searches a 1 MB payload that does not contain the
// text: the whole payload is scanned.
func BenchmarkMatchLarge(b *testing.B) {
	payload := []byte(strings.Repeat(`{"id":12345,"op":"update","data":[1,2,3],"user":"someone"}`, 1<<20/58))
	m := &decode.Message{Opcode: decode.OpText, Payload: payload, Size: int64(len(payload))}
	for _, expr := range []string{"needle", "Update2", `case:"needle"`, "/needle/", "zoë"} {
		f, err := Parse(expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if f.Match(nil, m) {
					b.Fatal("matched")
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(`client text (url:chat or host:example.com) size>=1k -"heartbeat" /err(or)?/`); err != nil {
			b.Fatal(err)
		}
	}
}
