package main

// The long shape: a few connections that all open at the start and last
// the whole file, as the sockets of a trading or chat client do, their
// packets interleaved in time. Per connection:
//
//   - the server pushes most of the messages, in writes of one to six
//     messages (one TCP send, cut into segments of at most 1448 bytes);
//     the client writes three times in ten, one message at a time
//     (orders, subscriptions, application heartbeats): about one message
//     in nine is a masked client frame;
//   - four messages in five are JSON-like text, from a 30-byte heartbeat
//     to a book snapshot or a batch of orders of a few KiB; the rest are
//     binary records of 16 bytes to 4 KiB; 97% of the frames carry less
//     than 256 bytes, 0.7% more than 1 KiB;
//   - connections 1, 5, 9, ... negotiate permessage-deflate with context
//     takeover, 3, 7, 11, ... without; in those, each message is
//     compressed or not by a coin toss, so that with a multiple of 4
//     connections a quarter of all messages are compressed;
//   - one message in 40 of 200 bytes or more is fragmented (2 to 4
//     frames), one in two of those with a ping between the first two
//     fragments, answered by a pong; one write in 250 is a ping and its
//     pong;
//   - the receiver acknowledges every second segment, and the last one
//     of a write in one write out of two (its delayed ACK firing); other
//     segments are acknowledged by the next data going the other way;
//   - the close handshake (started by the client on even connections, by
//     the server on odd ones) and the FINs come at the very end.
//
// With the defaults (20 connections, 2,000,000 frames) that is about
// 1.2 million packets and 325 MB; the size grows in proportion to -frames.

import (
	"strconv"
	"strings"
)

// long writes n long-lived connections: opened first, then a write of a
// random connection at a time until the targets are met, then closed.
func (g *gen) long(n int, minBytes, minPackets, minFrames int64) {
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = g.newLongConn()
	}
	// Open them all: the handshakes interleave at the start of the file.
	opening := append([]*conn(nil), conns...)
	for len(opening) > 0 {
		i := g.rnd.IntN(len(opening))
		c := opening[i]
		c.step(g)
		if c.state == 2 && len(c.queue) == 0 {
			opening[i] = opening[len(opening)-1]
			opening = opening[:len(opening)-1]
		}
	}
	for g.bytes < minBytes || g.packets < minPackets || g.frames < minFrames {
		conns[g.rnd.IntN(n)].step(g)
	}
	// Each connection finishes what it queued, then closes.
	for _, c := range conns {
		c.closing = true
	}
	for len(conns) > 0 {
		i := g.rnd.IntN(len(conns))
		if !conns[i].step(g) {
			conns[i] = conns[len(conns)-1]
			conns = conns[:len(conns)-1]
		}
	}
}

func (g *gen) newLongConn() *conn {
	c := g.newConn()
	c.long = true
	switch c.id % 4 {
	case 1:
		c.deflate = 2
	case 3:
		c.deflate = 1
	default:
		c.deflate = 0
	}
	return c
}

// planLong queues the connection's next write (and its acknowledgements),
// or its close once it is closing.
func (c *conn) planLong(g *gen) bool {
	if c.closing {
		closer := c.id%2 == 0
		if closer {
			c.send(g, true, c.frame(g, true, true, 0x8, 0, []byte("\x03\xe8bye")))
			c.send(g, false, c.frame(g, false, true, 0x8, 0, []byte("\x03\xe8")))
		} else {
			c.send(g, false, c.frame(g, false, true, 0x8, 0, []byte("\x03\xe9server shutting down")))
			c.send(g, true, c.frame(g, true, true, 0x8, 0, []byte("\x03\xe9")))
		}
		c.queue = append(c.queue, seg{closer, flagFIN | flagACK, nil}, seg{!closer, flagFIN | flagACK, nil}, seg{closer, flagACK, nil})
		c.state = 3
		return true
	}
	if g.rnd.IntN(250) == 0 {
		// A ping exchange, mostly started by the client.
		fromClient := g.rnd.IntN(4) > 0
		p := strconv.AppendInt(nil, g.now.UnixMilli(), 10)
		c.send(g, fromClient, c.frame(g, fromClient, true, 0x9, 0, p))
		c.send(g, !fromClient, c.frame(g, !fromClient, true, 0xA, 0, p))
		return true
	}
	fromClient := g.rnd.IntN(10) < 3
	n := 1
	if !fromClient {
		n += g.rnd.IntN(6)
	}
	var wire []byte
	for range n {
		wire = c.longMessage(g, fromClient, wire)
	}
	c.send(g, fromClient, wire)
	if len(c.pongs) > 0 {
		var pw []byte
		for _, p := range c.pongs {
			pw = append(pw, c.frame(g, !fromClient, true, 0xA, 0, p)...)
		}
		c.pongs = c.pongs[:0]
		c.send(g, !fromClient, pw)
	}
	return true
}

// send queues one write of b from one side, cut into segments, with the
// other side's acknowledgements: one for every second segment, and one
// for the last if the receiver's delayed ACK fires before more data goes
// the other way.
func (c *conn) send(g *gen, fromClient bool, b []byte) {
	d, o := 1, 0
	if fromClient {
		d, o = 0, 1
	}
	for len(b) > 0 {
		n := min(len(b), mss)
		flags := byte(flagACK)
		if n == len(b) {
			flags |= flagPSH
		}
		c.queue = append(c.queue, seg{fromClient, flags, b[:n]})
		b = b[n:]
		c.unacked[o] = 0 // acknowledged by this segment
		c.unacked[d]++
		if c.unacked[d] == 2 {
			c.queue = append(c.queue, seg{!fromClient, flagACK, nil})
			c.unacked[d] = 0
		}
	}
	if c.unacked[d] > 0 && g.rnd.IntN(2) == 0 {
		c.queue = append(c.queue, seg{!fromClient, flagACK, nil})
		c.unacked[d] = 0
	}
}

// longMessage appends the frames of one message from one side to wire.
func (c *conn) longMessage(g *gen, fromClient bool, wire []byte) []byte {
	g.messages++
	var payload []byte
	op := byte(0x1)
	if g.rnd.IntN(5) == 0 {
		op = 0x2
		payload = binaryPayload(g)
	} else if fromClient {
		payload = clientJSON(g, c)
	} else {
		payload = serverJSON(g, c)
	}
	rsv := byte(0)
	if c.deflate > 0 && g.rnd.IntN(2) == 0 {
		payload = c.compress(fromClient, payload)
		rsv = 4
		g.compressed++
	}
	if len(payload) < 200 || g.rnd.IntN(40) != 0 {
		return append(wire, c.frame(g, fromClient, true, op, rsv, payload)...)
	}
	// Fragmented: 2 to 4 frames, RSV1 on the first only (RFC 7692 6.1),
	// sometimes a ping after the first.
	parts := 2 + g.rnd.IntN(3)
	cuts := make([]int, 0, parts+1)
	cuts = append(cuts, 0)
	for i := 1; i < parts; i++ {
		cuts = append(cuts, len(payload)*i/parts+g.rnd.IntN(16))
	}
	cuts = append(cuts, len(payload))
	for i := range parts {
		o := byte(0)
		r := byte(0)
		if i == 0 {
			o, r = op, rsv
		}
		wire = append(wire, c.frame(g, fromClient, i == parts-1, o, r, payload[cuts[i]:cuts[i+1]])...)
		if i == 0 && g.rnd.IntN(2) == 0 {
			p := strconv.AppendInt([]byte("hb-"), int64(g.frames), 10)
			wire = append(wire, c.frame(g, fromClient, true, 0x9, 0, p)...)
			c.pongs = append(c.pongs, p)
		}
	}
	return wire
}

var (
	symbols  = strings.Fields("BTC-USD ETH-USD SOL-USD ETH-BTC DOGE-USD ADA-EUR XRP-USD LTC-GBP AVAX-USD DOT-EUR")
	channels = strings.Fields("ticker trades level2 heartbeat status user matches")
	sides    = []string{"buy", "sell"}
)

// price appends a price near the symbol's level, with two decimals.
func price(g *gen, b []byte, sym int) []byte {
	v := (sym+1)*1733_00 + g.rnd.IntN(5000)
	b = strconv.AppendInt(b, int64(v/100), 10)
	b = append(b, '.', byte('0'+v/10%10), byte('0'+v%10))
	return b
}

// size appends a quantity with four decimals.
func size(g *gen, b []byte) []byte {
	v := 1 + g.rnd.IntN(200000)
	b = strconv.AppendInt(b, int64(v/10000), 10)
	b = append(b, '.')
	f := strconv.AppendInt(nil, int64(10000+v%10000), 10)
	return append(b, f[1:]...)
}

func timeField(g *gen, b []byte) []byte {
	b = append(b, `"time":"`...)
	b = g.now.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	return append(b, '"')
}

// serverJSON is a feed's message: heartbeats, tickers, trades, book
// updates and, now and then, a book snapshot.
func serverJSON(g *gen, c *conn) []byte {
	c.seq++
	sym := g.rnd.IntN(len(symbols))
	b := make([]byte, 0, 256)
	switch r := g.rnd.IntN(100); {
	case r < 20:
		b = append(b, `{"type":"heartbeat","seq":`...)
		b = strconv.AppendInt(b, c.seq, 10)
		b = append(b, '}')
	case r < 45:
		b = append(b, `{"type":"ticker","product_id":"`...)
		b = append(b, symbols[sym]...)
		b = append(b, `","price":"`...)
		b = price(g, b, sym)
		b = append(b, `","best_bid":"`...)
		b = price(g, b, sym)
		b = append(b, `","best_ask":"`...)
		b = price(g, b, sym)
		b = append(b, `","seq":`...)
		b = strconv.AppendInt(b, c.seq, 10)
		b = append(b, '}')
	case r < 75:
		b = append(b, `{"type":"match","product_id":"`...)
		b = append(b, symbols[sym]...)
		b = append(b, `","trade_id":`...)
		b = strconv.AppendInt(b, c.seq*7, 10)
		b = append(b, `,"side":"`...)
		b = append(b, sides[g.rnd.IntN(2)]...)
		b = append(b, `","price":"`...)
		b = price(g, b, sym)
		b = append(b, `","size":"`...)
		b = size(g, b)
		b = append(b, `",`...)
		b = timeField(g, b)
		b = append(b, '}')
	case r < 99:
		b = append(b, `{"type":"l2update","product_id":"`...)
		b = append(b, symbols[sym]...)
		b = append(b, `","changes":[`...)
		for i := range 1 + g.rnd.IntN(4) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `["`...)
			b = append(b, sides[g.rnd.IntN(2)]...)
			b = append(b, `","`...)
			b = price(g, b, sym)
			b = append(b, `","`...)
			b = size(g, b)
			b = append(b, `"]`...)
		}
		b = append(b, `],`...)
		b = timeField(g, b)
		b = append(b, '}')
	default:
		b = append(b, `{"type":"snapshot","product_id":"`...)
		b = append(b, symbols[sym]...)
		levels := 16 + g.rnd.IntN(56)
		for s, name := range []string{`","bids":[`, `],"asks":[`} {
			b = append(b, name...)
			for i := range levels {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `["`...)
				b = price(g, b, sym+s)
				b = append(b, `","`...)
				b = size(g, b)
				b = append(b, `"]`...)
			}
		}
		b = append(b, `]}`...)
	}
	return b
}

// clientJSON is a client's message: application heartbeats, orders,
// subscriptions and, now and then, a batch of orders.
func clientJSON(g *gen, c *conn) []byte {
	c.seq++
	b := make([]byte, 0, 256)
	order := func(b []byte) []byte {
		sym := g.rnd.IntN(len(symbols))
		b = append(b, `{"product_id":"`...)
		b = append(b, symbols[sym]...)
		b = append(b, `","side":"`...)
		b = append(b, sides[g.rnd.IntN(2)]...)
		b = append(b, `","type":"limit","price":"`...)
		b = price(g, b, sym)
		b = append(b, `","size":"`...)
		b = size(g, b)
		b = append(b, `","client_oid":"`...)
		b = strconv.AppendUint(b, g.rnd.Uint64(), 36)
		return append(b, `"}`...)
	}
	switch r := g.rnd.IntN(100); {
	case r < 40:
		b = append(b, `{"op":"ping","id":`...)
		b = strconv.AppendInt(b, c.seq, 10)
		b = append(b, '}')
	case r < 80:
		b = append(b, `{"op":"order","id":`...)
		b = strconv.AppendInt(b, c.seq, 10)
		b = append(b, `,"order":`...)
		b = order(b)
		b = append(b, '}')
	case r < 98:
		b = append(b, `{"op":"subscribe","id":`...)
		b = strconv.AppendInt(b, c.seq, 10)
		b = append(b, `,"channels":["`...)
		b = append(b, channels[g.rnd.IntN(len(channels))]...)
		b = append(b, `"],"product_ids":[`...)
		for i := range 1 + g.rnd.IntN(len(symbols)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, symbols[i]...)
			b = append(b, '"')
		}
		b = append(b, `]}`...)
	default:
		b = append(b, `{"op":"batch","id":`...)
		b = strconv.AppendInt(b, c.seq, 10)
		b = append(b, `,"orders":[`...)
		for i := range 5 + g.rnd.IntN(20) {
			if i > 0 {
				b = append(b, ',')
			}
			b = order(b)
		}
		b = append(b, `]}`...)
	}
	return b
}

// binaryPayload is a message of 16-byte records (id, price, quantity,
// flags), as a binary feed sends: partly compressible.
func binaryPayload(g *gen) []byte {
	var n int
	switch r := g.rnd.IntN(1000); {
	case r < 800:
		n = 1 + g.rnd.IntN(4)
	case r < 995:
		n = 4 + g.rnd.IntN(20)
	default:
		n = 64 + g.rnd.IntN(192)
	}
	b := make([]byte, 0, 16*n)
	base := g.rnd.Uint32()
	for range n {
		id := base + uint32(g.rnd.IntN(64))
		p := 40000_00 + uint32(g.rnd.IntN(100000))
		q := g.rnd.Uint32() >> 12
		b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24),
			byte(p), byte(p>>8), byte(p>>16), byte(p>>24),
			byte(q), byte(q>>8), byte(q>>16), byte(q>>24),
			byte(g.rnd.IntN(4)), 0, 0, 1)
	}
	return b
}
