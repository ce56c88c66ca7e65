package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// rttWarmup is how many round trips of a latency run are not counted: the
// first ones on a new connection pay for cold caches and buffers growing
// on every hop, which is not what a proxy adds to a conversation under
// way. They are sent and checked like the others (and counted in "sent").
const rttWarmup = 50

// rttSize is the size of a latency run's messages: small enough that the
// time is the hops', not the bytes'.
const rttSize = 16

// clientCmd is the load client. It dials -conns connections (all of them
// before any sends, so that they are all open at once), then on each
// either
//
//   - pumps -count binary messages of -size bytes with at most -inflight
//     sent and not yet echoed (pipelined on the connection, a reader
//     goroutine beside the writer), and prints the payload bytes echoed
//     per second of wall time, MB/s (10^6 bytes); or
//   - with -rtt N, makes N round trips of 16-byte messages one at a time,
//     and prints the 50th, 90th and 99th percentiles in microseconds.
//
// Every echo is checked byte for byte: each message carries its
// connection's index and its sequence number over a random pattern, so
// that a lost, reordered, duplicated, mixed-up or altered message fails
// the run instead of making it look fast. Each connection then ends with
// a close handshake (1000), so that the proxies see a complete
// conversation. The last line, "sent messages=N bytes=B conns=C", is what
// a recording proxy must have seen in each direction.
func clientCmd(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	rawURL := fs.String("url", "", "the echo server's `URL` (ws:// or wss://)")
	proxy := fs.String("proxy", "", "connect through the forward proxy at `URL` (http://HOST:PORT) with CONNECT")
	caFile := fs.String("ca", "", "trust the CA certificates in `FILE` (PEM) for wss://")
	size := fs.Int("size", 64<<10, "message size in bytes (16 or more)")
	count := fs.Int("count", 2000, "messages per connection")
	inflight := fs.Int("inflight", 32, "most messages sent and not yet echoed, per connection")
	rtt := fs.Int("rtt", 0, "instead: make `N` round trips of 16-byte messages, one at a time, and print percentiles")
	nconns := fs.Int("conns", 1, "connections at once, each doing the whole run")
	timeout := fs.Duration("timeout", 10*time.Minute, "fail if the run takes longer")
	parse(fs, args)
	if *rtt > 0 {
		*size, *count, *inflight = rttSize, rttWarmup+*rtt, 1
	}
	switch {
	case *rawURL == "":
		return errors.New("-url is required")
	case *size < 16:
		return errors.New("-size must be 16 or more: each message carries its connection and sequence number")
	case *count < 1 || *inflight < 1 || *nconns < 1:
		return errors.New("-count, -inflight and -conns must be 1 or more")
	}

	d := &websocket.Dialer{
		// A message is written as one frame when it fits the write buffer
		// (gorilla fragments a client's larger messages), and read in
		// one piece; at least the default 4 KiB.
		ReadBufferSize:   max(*size, 4096),
		WriteBufferSize:  max(*size, 4096),
		HandshakeTimeout: 30 * time.Second,
	}
	if *proxy != "" {
		u, err := url.Parse(*proxy)
		if err != nil {
			return fmt.Errorf("-proxy: %w", err)
		}
		d.Proxy = http.ProxyURL(u)
	}
	if *caFile != "" {
		pool, err := loadPool(*caFile)
		if err != nil {
			return err
		}
		d.TLSClientConfig = &tls.Config{RootCAs: pool}
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	conns, err := dialAll(ctx, d, *rawURL, *nconns)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		c.SetWriteDeadline(deadline)
	}

	// One random pattern for every message, stamped per message.
	base := make([]byte, *size)
	rng := rand.NewChaCha8([32]byte{'p', 'r', 'o', 'x', 'y', 'p', 'e', 'e', 'r'})
	rng.Read(base)

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		lat   []time.Duration
	)
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				l   []time.Duration
				err error
			)
			if *rtt > 0 {
				l, err = roundTrips(c, i, *count, base)
			} else {
				err = pump(c, i, *count, *inflight, base)
			}
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, l...)
			if err != nil && first == nil {
				first = fmt.Errorf("connection %d: %w", i, err)
				// Unblock the others: the run has failed.
				for _, c := range conns {
					c.NetConn().Close()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return first
	}
	if err := closeAll(conns); err != nil {
		return err
	}

	n := len(conns)
	if *rtt > 0 {
		slices.Sort(lat)
		fmt.Printf("rtt p50 %d us p90 %d us p99 %d us: %d round trips of %d bytes on %d connection(s), after %d not counted on each\n",
			pct(lat, 50), pct(lat, 90), pct(lat, 99), len(lat), *size, n, rttWarmup)
	} else {
		total := float64(*count) * float64(*size) * float64(n)
		fmt.Printf("throughput %.1f MB/s: %d x %d bytes echoed in %.3f s on %d connection(s), %d in flight on each\n",
			total/elapsed.Seconds()/1e6, *count, *size, elapsed.Seconds(), n, *inflight)
	}
	fmt.Printf("sent messages=%d bytes=%d conns=%d\n", *count*n, int64(*count)*int64(*size)*int64(n), n)
	return nil
}

// dialAll opens n connections, at most 50 handshakes at a time: enough to
// open hundreds in a second, few enough not to look like a SYN flood to
// the listeners' backlogs.
func dialAll(ctx context.Context, d *websocket.Dialer, u string, n int) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	slots := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c, resp, err := d.DialContext(ctx, u, nil)
			if err != nil && resp != nil {
				err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
			}
			conns[i], errs[i] = c, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, fmt.Errorf("dialling %s: %w", u, err)
	}
	return conns, nil
}

// stamp writes connection conn's message seq over the pattern in msg.
func stamp(msg []byte, conn, seq int) {
	binary.BigEndian.PutUint64(msg[0:8], uint64(seq))
	binary.BigEndian.PutUint64(msg[8:16], uint64(conn))
}

// check reads the next message and compares it with want.
func check(c *websocket.Conn, got *bytes.Buffer, want []byte, seq int) error {
	mt, r, err := c.NextReader()
	if err != nil {
		return fmt.Errorf("reading echo %d: %w", seq, err)
	}
	got.Reset()
	if _, err := got.ReadFrom(r); err != nil {
		return fmt.Errorf("reading echo %d: %w", seq, err)
	}
	if mt != websocket.BinaryMessage || !bytes.Equal(got.Bytes(), want) {
		return fmt.Errorf("echo %d differs from what was sent (type %d, %d bytes, want %d)", seq, mt, got.Len(), len(want))
	}
	return nil
}

// pump sends count messages with at most inflight unanswered, and checks
// every echo, which comes back in order on one connection.
func pump(c *websocket.Conn, conn, count, inflight int, base []byte) error {
	slots := make(chan struct{}, inflight)
	done := make(chan error, 1)
	go func() {
		want := slices.Clone(base)
		var got bytes.Buffer
		for seq := range count {
			stamp(want, conn, seq)
			if err := check(c, &got, want, seq); err != nil {
				done <- err
				return
			}
			<-slots
		}
		done <- nil
	}()
	msg := slices.Clone(base)
	for seq := range count {
		select {
		case slots <- struct{}{}:
		case err := <-done:
			return err // the reader failed before all was sent
		}
		stamp(msg, conn, seq)
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return fmt.Errorf("sending message %d: %w", seq, err)
		}
	}
	return <-done
}

// roundTrips sends count messages one at a time, each after the echo of
// the one before, and returns the times of all but the first rttWarmup.
func roundTrips(c *websocket.Conn, conn, count int, base []byte) ([]time.Duration, error) {
	msg := slices.Clone(base)
	var got bytes.Buffer
	lat := make([]time.Duration, 0, count)
	for seq := range count {
		stamp(msg, conn, seq)
		t := time.Now()
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			return nil, fmt.Errorf("sending message %d: %w", seq, err)
		}
		if err := check(c, &got, msg, seq); err != nil {
			return nil, err
		}
		if seq >= rttWarmup {
			lat = append(lat, time.Since(t))
		}
	}
	return lat, nil
}

// pct is the p-th percentile of sorted, in microseconds (nearest rank).
func pct(sorted []time.Duration, p int) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)].Microseconds()
}

// closeAll ends every connection with a close handshake: a close (1000)
// sent, the server's close read back.
func closeAll(conns []*websocket.Conn) error {
	var errs []error
	for i, c := range conns {
		deadline := time.Now().Add(10 * time.Second)
		c.SetReadDeadline(deadline)
		err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
		if err == nil {
			_, _, err = c.NextReader()
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				err = nil
			} else if err == nil {
				err = errors.New("a message came after the last echo")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("closing connection %d: %w", i, err))
		}
		c.Close()
	}
	return errors.Join(errs...)
}
