package decode

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/wstap/wstap/decode/internal/inflate"
)

// The benchmarks below back the speed and memory claims of the decoder; the
// figures and the commands that produce them are in BENCHMARKS.md. Run them
// with -cpu 1 for per-core figures. They assert what they decoded (counts
// and sizes) so that a benchmark of a broken path fails instead of looking
// fast, but they never assert a time.

// benchSizes are the payload sizes of the unmask benchmarks: the largest
// control frame, a typical data frame, a large frame, and a bulk transfer.
var benchSizes = []struct {
	name string
	n    int
}{
	{"125B", 125},
	{"4KiB", 4 << 10},
	{"64KiB", 64 << 10},
	{"1MiB", 1 << 20},
}

// BenchmarkUnmask compares unmasking (RFC 6455 5.3) with a plain copy of
// the same buffer: the decoder either unmasks in place (Mask) or while
// copying a payload into the message buffer (maskCopy), and a copy is the
// floor either can reach.
func BenchmarkUnmask(b *testing.B) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, sz := range benchSizes {
		src := benchRandom(sz.n, 1)
		dst := make([]byte, sz.n)
		b.Run("op=copy/size="+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, src)
			}
		})
		b.Run("op=Mask/size="+sz.name, func(b *testing.B) {
			buf := append([]byte(nil), src...)
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			pos := 0
			for b.Loop() {
				// pos moves so that every key rotation is exercised.
				pos = Mask(key, pos, buf)
			}
		})
		b.Run("op=maskCopy/size="+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			b.ReportAllocs()
			for b.Loop() {
				maskCopy(dst, src, key, 1)
			}
		})
	}
}

// BenchmarkParseFrameHeader parses and checks the headers of frames of 125
// bytes or less, as most chat, game and ticker traffic is: the per-frame
// cost that bounds frames per second.
func BenchmarkParseFrameHeader(b *testing.B) {
	const n = 1024
	rng := rand.New(rand.NewPCG(1, 2))
	var stream []byte
	var offs []int
	for i := range n {
		h := FrameHeader{Fin: true, Opcode: OpText, Length: uint64(rng.IntN(126))}
		if i%2 == 0 {
			h.Masked = true
			h.MaskKey = [4]byte{byte(i), 2, 3, 4}
		}
		offs = append(offs, len(stream))
		stream = AppendFrameHeader(stream, h)
	}
	b.ReportAllocs()
	var h FrameHeader
	bad := 0
	for b.Loop() {
		for _, o := range offs {
			if !ParseFrameHeader(stream[o:], &h) || h.Check() != 0 {
				bad++
			}
		}
	}
	if bad != 0 {
		b.Fatalf("%d headers did not parse or check clean", bad)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/(float64(n)*float64(b.N)), "ns/frame")
}

// BenchmarkDecoder4KiB runs masked 4 KiB client frames through the whole
// decoder: header, unmasking into the message buffer, UTF-8 validation for
// text, message assembly and events.
func BenchmarkDecoder4KiB(b *testing.B) {
	for _, op := range []Opcode{OpBinary, OpText} {
		payload := benchJSON(4<<10, 7)
		block, frames := benchFrameBlock(256, func(int) (Opcode, []byte) { return op, payload }, 0)
		for _, chunk := range []int{64 << 10, 1448} {
			name := fmt.Sprintf("op=%s/chunk=%d", op, chunk)
			b.Run(name, func(b *testing.B) {
				benchDecoder(b, Options{}, false, block, frames, chunk)
			})
		}
	}
}

// BenchmarkDecoderSmallFrames runs small frames (2 to 125 bytes, masked,
// text and binary, a ping now and then) through the whole decoder. It must
// not allocate per frame: allocs/frame is the figure to watch.
func BenchmarkDecoderSmallFrames(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	text := benchJSON(125, 9)
	block, frames := benchFrameBlock(4096, func(i int) (Opcode, []byte) {
		n := 2 + rng.IntN(124)
		switch {
		case i%64 == 63:
			return OpPing, text[:4]
		case i%2 == 0:
			return OpText, text[:n]
		}
		return OpBinary, text[:n]
	}, 0)
	benchDecoder(b, Options{}, false, block, frames, 64<<10)
}

// BenchmarkInflate compares the decoder's inflater (decode/internal/inflate,
// a fork of github.com/klauspost/compress/flate) with klauspost's and Go's
// compress/flate on the same permessage-deflate traffic: JSON-like text
// messages compressed with context takeover (RFC 7692 7.2.3.3). "stream"
// inflates all messages as one deflate stream: raw inflate speed.
// "message" inflates message by message, as a receiver must when the
// messages are separate: the flate packages' readers are reset with the
// window of the earlier output as dictionary; the fork goes on from its
// history. "decoder" is the whole decoder on those messages, and on the
// same messages compressed each alone (no context takeover: a dynamic
// block with its own Huffman tables per message).
func BenchmarkInflate(b *testing.B) {
	msgs := benchMessages(2000, 11)
	comp := benchCompress(msgs, true)
	var plain, stream []byte
	for i, m := range msgs {
		plain = append(plain, m...)
		stream = append(stream, comp[i]...)
		stream = append(stream, 0x00, 0x00, 0xff, 0xff)
	}
	stream = append(stream, deflateTail[4:]...) // final empty block: clean EOF
	type lib struct {
		name    string
		newDict func(io.Reader, []byte) io.ReadCloser
	}
	libs := []lib{
		{"klauspost", flate.NewReaderDict},
		{"stdlib", stdflate.NewReaderDict},
	}
	for _, l := range libs {
		b.Run("lib="+l.name+"/mode=stream", func(b *testing.B) {
			out := make([]byte, 0, len(plain))
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				r := l.newDict(bytes.NewReader(stream), nil)
				w := bytes.NewBuffer(out[:0])
				if _, err := io.Copy(w, r); err != nil {
					b.Fatal(err)
				}
				if w.Len() != len(plain) {
					b.Fatalf("inflated %d bytes, want %d", w.Len(), len(plain))
				}
			}
		})
		b.Run("lib="+l.name+"/mode=message", func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			var fr io.ReadCloser
			window := make([]byte, 0, 64<<10)
			out := make([]byte, 4096)
			var src bytes.Reader
			var input []byte
			for b.Loop() {
				window = window[:0]
				total := 0
				for i, c := range comp {
					input = append(append(input[:0], c...), deflateTail[:]...)
					src.Reset(input)
					if fr == nil {
						fr = l.newDict(&src, window)
					} else if err := fr.(flate.Resetter).Reset(&src, window); err != nil {
						b.Fatal(err)
					}
					n, err := io.ReadFull(fr, out[:len(msgs[i])])
					if err != nil {
						b.Fatalf("message %d: %v", i, err)
					}
					total += n
					// Keep the last 32 KiB of output as the next dictionary.
					if len(window)+n > cap(window) {
						window = append(window[:0], window[len(window)-(32<<10-n):]...)
					}
					window = append(window, out[:n]...)
				}
				if total != len(plain) {
					b.Fatalf("inflated %d bytes, want %d", total, len(plain))
				}
			}
		})
	}
	b.Run("lib=wstap/mode=message", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		b.ReportAllocs()
		var r inflate.Reader
		out := make([]byte, 4096)
		var input []byte
		for b.Loop() {
			r.Reset(32 << 10)
			total := 0
			for i, c := range comp {
				input = append(append(input[:0], c...), deflateTail[:]...)
				r.Start(input)
				n, err := io.ReadFull(&r, out[:len(msgs[i])])
				if err != nil {
					b.Fatalf("message %d: %v", i, err)
				}
				total += n
			}
			if total != len(plain) {
				b.Fatalf("inflated %d bytes, want %d", total, len(plain))
			}
		}
	})
	b.Run("mode=decoder/takeover", func(b *testing.B) {
		block, frames := benchFrameBlock(len(msgs), func(i int) (Opcode, []byte) { return OpText, comp[i] }, 4)
		benchDecoderBytes(b, Options{}, true, block, frames, 64<<10, int64(len(plain)))
	})
	alone := benchCompress(msgs, false)
	b.Run("mode=decoder/alone", func(b *testing.B) {
		block, frames := benchFrameBlock(len(msgs), func(i int) (Opcode, []byte) { return OpText, alone[i] }, 4)
		benchDecoderBytes(b, Options{}, true, block, frames, 64<<10, int64(len(plain)))
	})
	b.Logf("%d messages, %d bytes plain, %d bytes compressed (%.1f%%)", len(msgs), len(plain), len(stream), 100*float64(len(stream))/float64(len(plain)))
}

// benchDecoder feeds block (frames frames) to a decoder, chunk bytes at a
// time, after a handshake, and reports throughput of the block's bytes.
func benchDecoder(b *testing.B, opts Options, deflate bool, block []byte, frames, chunk int) {
	benchDecoderBytes(b, opts, deflate, block, frames, chunk, int64(len(block)))
}

// benchDecoderBytes is benchDecoder with the bytes per block to report set
// apart: for compressed traffic the inflated size is what counts.
//
// In streaming mode one decoder lives for the whole benchmark, as on a
// long-lived connection, so allocs/op are steady-state allocations per
// block. Without streaming the connection keeps everything, so every
// iteration decodes a fresh connection.
func benchDecoderBytes(b *testing.B, opts Options, deflate bool, block []byte, frames, chunk int, size int64) {
	req, resp := benchHandshake(deflate)
	t0 := time.Unix(1700000000, 0)
	var nFrames, nMsgs int
	var payload int64
	listen := func(e Event) {
		switch e.Kind {
		case EventFrame:
			nFrames++
		case EventMessage:
			nMsgs++
			payload += int64(len(e.Message.Payload))
		}
	}
	open := func() *Decoder {
		d := NewDecoder(&Connection{}, opts, listen)
		d.Feed(Client, t0, req)
		d.Feed(Server, t0, resp)
		if d.Conn().State != StateOpen {
			b.Fatalf("handshake left state %s", d.Conn().State)
		}
		return d
	}
	feed := func(d *Decoder) {
		for p := block; len(p) > 0; {
			n := min(chunk, len(p))
			d.Feed(Client, t0, p[:n])
			p = p[n:]
		}
	}
	d := open()
	b.SetBytes(size)
	b.ReportAllocs()
	iters := 0
	// allocs/op is per block; allocs/frame comes from the same counter.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		feed(d)
		iters++
	}
	runtime.ReadMemStats(&after)
	c := d.Conn()
	if nFrames != iters*frames || nMsgs != iters*frames || deflate && payload != int64(iters)*size {
		b.Fatalf("decoded %d frames, %d messages, %d payload bytes in %d blocks; want %d frames and messages per block",
			nFrames, nMsgs, payload, iters, frames)
	}
	if c.ProblemCount != 0 {
		b.Fatalf("decoding found %d problems; the traffic is valid", c.ProblemCount)
	}
	total := float64(frames) * float64(iters)
	b.ReportMetric(total/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/frame")
}

// benchHandshake returns an RFC 6455 Upgrade request and its 101 answer
// (the key and accept of RFC 6455 1.3), with permessage-deflate accepted
// when deflate is set.
func benchHandshake(deflate bool) (req, resp []byte) {
	ext := ""
	if deflate {
		ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	}
	req = []byte("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + ext + "\r\n")
	resp = []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" + ext + "\r\n")
	return req, resp
}

// benchFrameBlock builds n single-frame messages as a client sends them:
// masked, with a different key each. next returns each frame's opcode and
// payload; rsv is set on every frame (RSV1 = 4 marks a compressed message,
// RFC 7692 6).
func benchFrameBlock(n int, next func(int) (Opcode, []byte), rsv uint8) ([]byte, int) {
	var block []byte
	for i := range n {
		op, p := next(i)
		h := FrameHeader{Fin: true, Rsv: rsv, Opcode: op, Masked: true, Length: uint64(len(p)),
			MaskKey: [4]byte{byte(i), byte(i >> 8), 0x5a, 0xa5}}
		block = benchAppendFrame(block, h, p)
	}
	return block, n
}

// benchAppendFrame appends a frame with header h and payload p, masked with
// h.MaskKey when h.Masked.
func benchAppendFrame(b []byte, h FrameHeader, p []byte) []byte {
	b = AppendFrameHeader(b, h)
	start := len(b)
	b = append(b, p...)
	if h.Masked {
		for i := start; i < len(b); i++ {
			b[i] ^= h.MaskKey[(i-start)&3]
		}
	}
	return b
}

// benchRandom returns n pseudo-random bytes.
func benchRandom(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// benchMessages returns n JSON-like messages, the kind of text most
// WebSocket applications send: trades, chat lines and presence updates,
// with repeated keys and varying values, 60 to 400 bytes each.
func benchMessages(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	words := []string{"hello", "world", "order", "filled", "price", "moved", "see", "you", "at", "the",
		"meeting", "deploy", "done", "rollback", "latency", "is", "up", "again", "thanks", "ok"}
	symbols := []string{"BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD", "AAPL", "MSFT"}
	msgs := make([][]byte, n)
	for i := range msgs {
		var m []byte
		switch rng.IntN(3) {
		case 0:
			m = fmt.Appendf(m, `{"type":"trade","seq":%d,"symbol":%q,"price":%s,"size":%s,"side":%q,"ts":%d}`,
				100000+i, symbols[rng.IntN(len(symbols))],
				strconv.FormatFloat(40000+rng.Float64()*5000, 'f', 2, 64),
				strconv.FormatFloat(rng.Float64(), 'f', 4, 64),
				[]string{"buy", "sell"}[rng.IntN(2)], 1732166801000+int64(i)*37)
		case 1:
			m = fmt.Appendf(m, `{"type":"chat","room":"ops-%d","user":"user%03d","text":"`, rng.IntN(4), rng.IntN(200))
			for w := range 3 + rng.IntN(40) {
				if w > 0 {
					m = append(m, ' ')
				}
				m = append(m, words[rng.IntN(len(words))]...)
			}
			m = fmt.Appendf(m, `","ts":%d}`, 1732166801000+int64(i)*37)
		default:
			m = fmt.Appendf(m, `{"type":"presence","users":[`)
			for u := range 1 + rng.IntN(12) {
				if u > 0 {
					m = append(m, ',')
				}
				m = fmt.Appendf(m, `{"id":%d,"status":%q}`, rng.IntN(5000), []string{"online", "away", "busy"}[rng.IntN(3)])
			}
			m = append(m, "]}"...)
		}
		msgs[i] = m
	}
	return msgs
}

// benchJSON returns n bytes of JSON-like text made of benchMessages.
func benchJSON(n int, seed uint64) []byte {
	var b []byte
	for _, m := range benchMessages(n/60+1, seed) {
		b = append(b, m...)
		if len(b) >= n {
			break
		}
	}
	return b[:n]
}

// benchCompress compresses each message as a permessage-deflate sender
// does (RFC 7692 7.2.1): a sync flush after each message, whose final
// 00 00 ff ff is removed. With takeover the compressor keeps its window
// from message to message. compress/flate at its default level stands in
// for zlib, which browsers use: like zlib it keeps the window across
// flushes (23% of the plain size on benchMessages, where the fast levels
// of klauspost/compress reach only 65%).
func benchCompress(msgs [][]byte, takeover bool) [][]byte {
	var buf bytes.Buffer
	w, err := stdflate.NewWriter(&buf, stdflate.DefaultCompression)
	if err != nil {
		panic(err)
	}
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		if !takeover {
			w.Reset(&buf)
		}
		w.Write(m)
		w.Flush()
		c := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
		out[i] = append([]byte(nil), c...)
		buf.Reset()
	}
	return out
}
