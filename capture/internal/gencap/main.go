// Command gencap writes a large synthetic pcap of WebSocket connections,
// for benchmarking "wstap read" against tshark. Every packet is valid
// Ethernet, IPv4 and TCP, every connection has a handshake, masked client
// frames and unmasked server frames, fragmented messages, pings, a close
// handshake and FINs, and some connections use permessage-deflate (with
// and without context takeover). The output is deterministic.
//
// -shape short (the default) writes many short connections overlapping in
// time, 200 open at a time, each with 20 to 220 messages of all three
// length forms; a third of the connections use permessage-deflate (half
// of them with context takeover). It writes at least -bytes and -packets.
//
// -shape long writes -conns connections (20 by default) that all open at
// the start and last the whole file, their messages interleaved in time
// (see long.go). It writes at least -frames frames (2,000,000 by default,
// about 325 MB), and at least -bytes and -packets when they are given.
//
//	go run ./capture/internal/gencap -o big.pcap -bytes 320000000 -packets 1000000
//	go run ./capture/internal/gencap -o long.pcap -shape long -conns 20 -frames 2000000
package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

const (
	mss       = 1448
	linkEther = 1
	guid      = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

func main() {
	out := flag.String("o", "", "output pcap `file`")
	shape := flag.String("shape", "short", "`short`: many short connections; long: a few that last the whole file")
	minBytes := flag.Int64("bytes", 320_000_000, "write at least this many bytes (with -shape long: 0 unless given)")
	minPackets := flag.Int64("packets", 1_000_000, "and at least this many packets (with -shape long: 0 unless given)")
	minFrames := flag.Int64("frames", 0, "and at least this many WebSocket frames (with -shape long: 2000000 unless given)")
	active := flag.Int("active", 200, "connections open at a time (-shape short)")
	nconns := flag.Int("conns", 20, "connections (-shape long)")
	flag.Parse()
	if *out == "" {
		log.Fatal("gencap: -o is required")
	}
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch *shape {
	case "short":
	case "long":
		if !given["bytes"] {
			*minBytes = 0
		}
		if !given["packets"] {
			*minPackets = 0
		}
		if !given["frames"] {
			*minFrames = 2_000_000
		}
		if *nconns < 1 || *nconns > 60000 {
			log.Fatal("gencap: -conns must be between 1 and 60000")
		}
	default:
		log.Fatalf("gencap: unknown -shape %q (short or long)", *shape)
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	g := newGen(f)
	if *shape == "long" {
		g.long(*nconns, *minBytes, *minPackets, *minFrames)
	} else {
		g.short(*active, *minBytes, *minPackets, *minFrames)
	}
	if err := g.w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d packets, %d bytes, %d connections, %d frames", *out, g.packets, g.bytes, g.conns, g.frames)
	if *shape == "long" {
		fmt.Printf(", %d messages, %d compressed", g.messages, g.compressed)
	}
	fmt.Println()
}

// short writes the default shape: active connections open at any time, a
// new one started as soon as one closes, until the targets are met.
func (g *gen) short(active int, minBytes, minPackets, minFrames int64) {
	conns := make([]*conn, 0, active)
	for g.bytes < minBytes || g.packets < minPackets || g.frames < minFrames {
		for len(conns) < active {
			conns = append(conns, g.newConn())
		}
		i := g.rnd.IntN(len(conns))
		if !conns[i].step(g) {
			conns[i] = conns[len(conns)-1]
			conns = conns[:len(conns)-1]
		}
	}
	// Let the open connections finish, so that every one closes.
	for len(conns) > 0 {
		i := g.rnd.IntN(len(conns))
		c := conns[i]
		c.left = min(c.left, 0)
		if !c.step(g) {
			conns[i] = conns[len(conns)-1]
			conns = conns[:len(conns)-1]
		}
	}
}

// gen writes the pcap.
type gen struct {
	w       *bufio.Writer
	rnd     *rand.Rand
	now     time.Time
	buf     []byte
	bytes   int64
	packets int64
	conns   int
	frames  int64
	// Counted by the long shape only.
	messages, compressed int64
}

func newGen(f *os.File) *gen {
	g := &gen{w: bufio.NewWriterSize(f, 4<<20), rnd: rand.New(rand.NewPCG(1, 2)), now: time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)}
	h := binary.LittleEndian.AppendUint32(nil, 0xa1b23c4d) // nanoseconds
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 4)
	h = append(h, make([]byte, 8)...)
	h = binary.LittleEndian.AppendUint32(h, 262144)
	h = binary.LittleEndian.AppendUint32(h, linkEther)
	g.w.Write(h)
	g.bytes = int64(len(h))
	return g
}

// packet writes one Ethernet/IPv4/TCP packet.
func (g *gen) packet(src, dst [4]byte, sport, dport uint16, seq, ack uint32, flags byte, payload []byte) {
	g.now = g.now.Add(time.Duration(5+g.rnd.IntN(30)) * time.Microsecond)
	b := g.buf[:0]
	b = append(b, 2, 0, 0, 0, 0, dst[3], 2, 0, 0, 0, 0, src[3], 0x08, 0x00)
	ip := len(b)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(40+len(payload)))
	b = append(b, 0, 0, 0x40, 0, 64, 6, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	var sum uint32
	for i := ip; i < ip+20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[ip+10:], ^uint16(sum))
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = append(b, 5<<4, flags)
	b = binary.BigEndian.AppendUint16(b, 64240)
	b = append(b, 0, 0, 0, 0) // checksum left to offload, urgent pointer
	b = append(b, payload...)
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(g.now.Unix()))
	binary.LittleEndian.PutUint32(rec[4:], uint32(g.now.Nanosecond()))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(b)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(b)))
	g.w.Write(rec[:])
	g.w.Write(b)
	g.buf = b
	g.bytes += int64(16 + len(b))
	g.packets++
}

const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

// conn is one connection's script, played a packet at a time.
type conn struct {
	cli, srv     [4]byte
	cport, sport uint16
	cseq, sseq   uint32
	state        int
	left         int // messages still to send
	deflate      int // 0 none, 1 no context takeover, 2 takeover
	zc, zs       *flate.Writer
	zbc, zbs     bytes.Buffer
	queue        []seg

	// The long shape's (see long.go).
	id      int
	long    bool
	closing bool     // close once the queue is empty
	unacked [2]int   // data segments not acknowledged yet, from the client [0] and the server [1]
	pongs   [][]byte // payloads of pings to answer
	seq     int64    // messages of the connection, for their "seq" and "id"
}

type seg struct {
	fromClient bool
	flags      byte
	payload    []byte
}

func (g *gen) newConn() *conn {
	g.conns++
	n := g.conns
	c := &conn{
		id:    n,
		cli:   [4]byte{10, byte(1 + n>>16&0x7f), byte(n >> 8), byte(n)},
		srv:   [4]byte{10, 0, 0, byte(1 + n%2)},
		cport: uint16(1024 + n%60000),
		sport: []uint16{80, 8080}[n%2],
		cseq:  g.rnd.Uint32(),
		sseq:  g.rnd.Uint32(),
		left:  20 + g.rnd.IntN(200),
	}
	switch n % 6 {
	case 1:
		c.deflate = 1
	case 4:
		c.deflate = 2
	}
	return c
}

// step emits the connection's next packet; it returns false when the
// connection is over.
func (c *conn) step(g *gen) bool {
	if len(c.queue) == 0 {
		if !c.plan(g) {
			return false
		}
	}
	s := c.queue[0]
	c.queue = c.queue[1:]
	if s.fromClient {
		ack := c.sseq
		if c.long && s.flags&flagACK == 0 {
			// The SYN: no acknowledgement number without the ACK flag (the
			// short shape's have one, kept for its output to stay the same).
			ack = 0
		}
		g.packet(c.cli, c.srv, c.cport, c.sport, c.cseq, ack, s.flags, s.payload)
		c.cseq += uint32(len(s.payload))
		if s.flags&(flagSYN|flagFIN) != 0 {
			c.cseq++
		}
	} else {
		g.packet(c.srv, c.cli, c.sport, c.cport, c.sseq, c.cseq, s.flags, s.payload)
		c.sseq += uint32(len(s.payload))
		if s.flags&(flagSYN|flagFIN) != 0 {
			c.sseq++
		}
	}
	return true
}

// plan queues the packets of the connection's next exchange.
func (c *conn) plan(g *gen) bool {
	switch c.state {
	case 0:
		c.queue = append(c.queue, seg{true, flagSYN, nil}, seg{false, flagSYN | flagACK, nil}, seg{true, flagACK, nil})
	case 1:
		key := make([]byte, 16)
		for i := range key {
			key[i] = byte(g.rnd.Uint32())
		}
		k := base64.StdEncoding.EncodeToString(key)
		ext := ""
		switch c.deflate {
		case 1:
			ext = "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n"
		case 2:
			ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		}
		path := fmt.Sprintf("/feed/%d?v=2", g.conns)
		if c.long {
			path = fmt.Sprintf("/stream/%d?v=2", c.id)
		}
		req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: 10.0.0.%d:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", path, c.srv[3], c.sport, k, ext)
		sum := sha1.Sum([]byte(k + guid))
		resp := fmt.Sprintf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n", base64.StdEncoding.EncodeToString(sum[:]), ext)
		c.data(true, []byte(req))
		c.data(false, []byte(resp))
		if c.deflate > 0 {
			c.zc, _ = flate.NewWriter(&c.zbc, flate.BestSpeed)
			c.zs, _ = flate.NewWriter(&c.zbs, flate.BestSpeed)
		}
	case 2:
		if c.long {
			return c.planLong(g)
		}
		if c.left <= 0 {
			c.data(true, c.frame(g, true, true, 0x8, 0, []byte("\x03\xe8bye")))
			c.data(false, c.frame(g, false, true, 0x8, 0, []byte("\x03\xe8")))
			c.queue = append(c.queue, seg{true, flagFIN | flagACK, nil}, seg{false, flagFIN | flagACK, nil}, seg{true, flagACK, nil})
			c.state = 3
			return true
		}
		c.left--
		c.message(g)
		return true
	default:
		return false
	}
	c.state++
	return true
}

// data queues bytes from one side, cut into segments, each acknowledged.
func (c *conn) data(fromClient bool, b []byte) {
	for len(b) > 0 {
		n := min(len(b), mss)
		c.queue = append(c.queue, seg{fromClient, flagPSH | flagACK, b[:n]}, seg{!fromClient, flagACK, nil})
		b = b[n:]
	}
}

var words = strings.Fields("price bid ask symbol venue order fill cancel quote trade status ok error retry user login token update delta snapshot book level")

// message queues one message (and sometimes a ping) from a random side.
func (c *conn) message(g *gen) {
	fromClient := g.rnd.IntN(2) == 0
	var size int
	switch r := g.rnd.IntN(1000); {
	case r < 700:
		size = 8 + g.rnd.IntN(120) // 7-bit length
	case r < 997:
		size = 126 + g.rnd.IntN(1200) // 16-bit length
	default:
		size = 65536 + g.rnd.IntN(4000) // 64-bit length
	}
	text := g.rnd.IntN(4) > 0
	payload := make([]byte, 0, size)
	if text {
		for len(payload) < size {
			payload = append(payload, words[g.rnd.IntN(len(words))]...)
			payload = append(payload, ' ')
		}
		payload = payload[:size]
	} else {
		for range size {
			payload = append(payload, byte(g.rnd.Uint32()))
		}
	}
	op := byte(0x2)
	if text {
		op = 0x1
	}
	rsv := byte(0)
	if c.deflate > 0 {
		payload = c.compress(fromClient, payload)
		rsv = 4
	}
	var wire []byte
	if len(payload) > 8192 && g.rnd.IntN(2) == 0 {
		// Fragmented, with a ping between the fragments.
		half := len(payload) / 2
		wire = append(wire, c.frame(g, fromClient, false, op, rsv, payload[:half])...)
		wire = append(wire, c.frame(g, fromClient, true, 0x9, 0, []byte("keepalive"))...)
		wire = append(wire, c.frame(g, fromClient, true, 0x0, 0, payload[half:])...)
	} else {
		wire = c.frame(g, fromClient, true, op, rsv, payload)
	}
	c.data(fromClient, wire)
	if g.rnd.IntN(40) == 0 {
		c.data(!fromClient, c.frame(g, !fromClient, true, 0xA, 0, []byte("keepalive")))
	}
}

// compress deflates a message (RFC 7692 7.2.1): with context takeover one
// writer per direction goes on from message to message.
func (c *conn) compress(fromClient bool, p []byte) []byte {
	z, buf := c.zs, &c.zbs
	if fromClient {
		z, buf = c.zc, &c.zbc
	}
	buf.Reset()
	if c.deflate == 1 {
		z.Reset(buf)
	}
	z.Write(p)
	z.Flush()
	out := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	return bytes.Clone(out)
}

// frame encodes one frame; client frames are masked (RFC 6455 5.2, 5.3).
func (c *conn) frame(g *gen, fromClient, fin bool, op, rsv byte, payload []byte) []byte {
	g.frames++
	b0 := rsv<<4 | op
	if fin {
		b0 |= 0x80
	}
	var mask byte
	if fromClient {
		mask = 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, mask|byte(n))
	case n <= 0xffff:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !fromClient {
		return append(out, payload...)
	}
	key := [4]byte{byte(1 + g.rnd.IntN(255)), byte(g.rnd.Uint32()), byte(g.rnd.Uint32()), byte(g.rnd.Uint32())}
	out = append(out, key[:]...)
	for i, v := range payload {
		out = append(out, v^key[i%4])
	}
	return out
}
