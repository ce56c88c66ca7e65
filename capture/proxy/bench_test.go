package proxy

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkRelay echoes 64 KiB binary messages, 32 in flight, directly
// and through the reverse proxy (decoding into a store), with gorilla
// peers in the same process: the proxy's share of the CPU per byte. The
// comparison with a plain relay and with mitmproxy, in separate processes,
// is scripts/bench-proxy.sh.
func BenchmarkRelay(b *testing.B) {
	up := startUpstream(b, false)
	up.rec.off = true
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via, func(b *testing.B) {
			addr := up.addr
			var tp *testProxy
			if via == "proxy" {
				tp = startProxy(b, Options{Upstream: mustURL(b, up.wsURL(""))})
				addr = tp.addr
			}
			c, _, err := (&websocket.Dialer{WriteBufferSize: 64 << 10, ReadBufferSize: 64 << 10}).Dial("ws://"+addr+"/bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := bytes.Repeat([]byte("wstap relay "), (64<<10)/12)
			const inFlight = 32
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			errs := make(chan error, 1)
			go func() {
				for range b.N {
					if _, got, err := c.ReadMessage(); err != nil || len(got) != len(msg) {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
			sem := make(chan struct{}, inFlight)
			for range b.N {
				sem <- struct{}{}
				if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					b.Fatal(err)
				}
				<-sem
			}
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if tp != nil {
				c.Close()
				for _, conn := range tp.ended(b, 1) {
					for _, p := range conn.Problems {
						b.Errorf("problem: %s %s", p.Kind, p.Message)
					}
				}
			}
		})
	}
}
