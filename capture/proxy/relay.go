package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/wstap/wstap/decode"
)

// Read buffers of the relay, from pools shared by all connections. A read
// takes relayBuffer (a TLS record is 16 KiB, a kernel socket buffer a few
// times that); a direction whose last read did not fill half a smallBuffer
// reads into one, which is what it holds while it waits: five hundred
// open WebSockets that exchange a message now and then must not hold 64
// KiB per direction each. A direction whose last read filled more than
// half a relayBuffer is a bulk transfer and reads bulkBuffer at a time:
// fewer system calls and wake-ups for the same bytes (64 KiB messages
// echoed: 500 -> 540 MB/s), without giving 256 KiB to the many
// directions that read a few KiB at a time (a 256 KiB buffer for every
// read over 4 KiB took the run of 500 connections from 129 to 210 MiB).
const (
	relayBuffer = 64 << 10
	smallBuffer = 4 << 10
	bulkBuffer  = 256 << 10
)

// readBuffer is the buffer of a connection's reader, through which heads
// are read; what it holds past a head is relayed first, and the relay
// then reads the connection itself, leaving the reader to the collector.
const readBuffer = 64 << 10

// leg is the relay between a client and one upstream connection, and the
// feeder that decodes what it carries.
type leg struct {
	c      *clientConn
	client net.Conn
	cr     *bufio.Reader // reads the client (a head may have been read)
	up     net.Conn
	ur     *bufio.Reader // reads the upstream
	feed   *feeder
}

func newLeg(c *clientConn, client net.Conn, cr *bufio.Reader, up net.Conn, f *feeder) *leg {
	return &leg{c: c, client: client, cr: cr, up: up, ur: bufio.NewReaderSize(up, readBuffer), feed: f}
}

// now is the time a chunk was seen, as captures record it.
func now() time.Time { return time.Now().UTC() }

// feedWriter writes to w, handing a copy of what it writes to the feeder
// first: the decoder then sees a request before any answer to it, however
// the two directions' goroutines are scheduled.
type feedWriter struct {
	w    io.Writer
	f    *feeder
	side decode.Side
}

func (fw feedWriter) Write(b []byte) (int, error) {
	fw.f.push(fw.side, now(), b)
	return fw.w.Write(b)
}

// toServer and toClient write to the upstream and to the client.
func (l *leg) toServer() io.Writer { return feedWriter{l.up, l.feed, decode.Client} }
func (l *leg) toClient() io.Writer { return feedWriter{l.client, l.feed, decode.Server} }

// relay copies both directions as they come until both ended, then ends
// the decoding.
func (l *leg) relay() {
	cr, ur := l.cr, l.ur
	l.cr, l.ur = nil, nil // drained by the pipes, then no longer needed
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		l.pipe(l.up, l.client, cr, decode.Client)
	}()
	go func() {
		defer wg.Done()
		l.pipe(l.client, l.up, ur, decode.Server)
	}()
	wg.Wait()
	l.up.Close()
	l.feed.close()
}

// pipe copies what side sends to dst until it ends: first what br (the
// reader of src's heads) holds, then what is read from src. The end of src
// is passed on as the end of dst's write half (TCP half-close, or TLS
// close_notify); an error ends both connections, and a reset is recorded
// as a problem that says who reset.
func (l *leg) pipe(dst, src net.Conn, br *bufio.Reader, side decode.Side) {
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if !l.forward(dst, side, b) {
			return
		}
	}
	p := l.c.p
	pool := &p.small
	for {
		bp := pool.Get().(*[]byte)
		buf := (*bp)[:cap(*bp)]
		n, err := src.Read(buf)
		p.reads.Add(1)
		p.relayed.Add(int64(n))
		ok := n == 0 || l.forward(dst, side, buf[:n])
		pool.Put(bp)
		if !ok {
			return
		}
		// The next read is as large as this one needed.
		switch {
		case n > relayBuffer/2:
			pool = &p.bulk
		case n > smallBuffer/2:
			pool = &p.buffers
		default:
			pool = &p.small
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			l.feed.event(chunk{side: side, t: now(), fin: true})
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
		}
		l.vanished(side, err)
		return
	}
}

// forward hands a copy of b, sent by side, to the decoder and writes b to
// dst. The copy is queued first (see feedWriter); queueing is a copy into
// the feeder's buffer, which waits only when the decoder is far behind.
// It reports false when dst failed, and the relay ended.
func (l *leg) forward(dst net.Conn, side decode.Side, b []byte) bool {
	l.feed.push(side, now(), b)
	if _, err := dst.Write(b); err != nil {
		l.vanished(side.Other(), err)
		return false
	}
	return true
}

// vanished ends the relay because side's connection failed (or ended in a
// way the other cannot be told about): a reset is recorded, and both
// connections are closed.
func (l *leg) vanished(side decode.Side, err error) {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		t := now()
		l.feed.event(chunk{side: side, t: t, reset: true, problem: &decode.Problem{
			Severity: decode.Warning, Kind: decode.KindConnectionReset, From: side, Time: t,
			Frame: -1, MessageIndex: -1, Offset: -1,
			Message: side.String() + " reset the connection (TCP RST): what it was sending may be cut off",
		}})
	}
	l.client.Close()
	l.up.Close()
}
