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

// relayBuffer is what one read of a relayed direction takes at most: a
// TLS record is 16 KiB, a kernel socket buffer a few times that.
const relayBuffer = 64 << 10

// readBuffer is the buffer of a connection's reader, through which heads
// are read; what it holds past a head is relayed first.
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
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		l.pipe(l.up, l.cr, decode.Client)
	}()
	go func() {
		defer wg.Done()
		l.pipe(l.client, l.ur, decode.Server)
	}()
	wg.Wait()
	l.up.Close()
	l.feed.close()
}

// pipe copies what side sends (read from src) to dst until src ends. The
// end of src is passed on as the end of dst's write half (TCP half-close,
// or TLS close_notify); an error ends both connections, and a reset is
// recorded as a problem that says who reset.
func (l *leg) pipe(dst net.Conn, src io.Reader, side decode.Side) {
	bp := l.c.p.buffers.Get().(*[]byte)
	defer l.c.p.buffers.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			// The copy is queued before the bytes go on (see feedWriter);
			// queueing is a copy into the feeder's buffer, never a wait.
			l.feed.push(side, now(), buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				l.vanished(side.Other(), werr)
				return
			}
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
