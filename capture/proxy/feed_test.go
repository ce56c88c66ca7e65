package proxy

import (
	"bytes"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
)

// TestLagBounds: a connection's copies wait for its decoder only past
// maxConnLag, a connection with nothing queued always gets one read in,
// and decoded bytes wake the waiting relay.
func TestLagBounds(t *testing.T) {
	l := newLag()
	a, b := &feeder{lag: l}, &feeder{lag: l}
	l.take(a, maxConnLag)
	// b has nothing queued: it is never held by a.
	l.take(b, 100)
	took := make(chan struct{})
	go func() {
		l.take(a, 1) // over a's bound: waits
		close(took)
	}()
	select {
	case <-took:
		t.Fatal("a connection over its lag bound queued more without waiting")
	case <-time.After(50 * time.Millisecond):
	}
	l.give(a, maxConnLag)
	select {
	case <-took:
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting relay was not woken when its decoder caught up")
	}
	if a.queued != 1 || b.queued != 100 || l.total != 101 {
		t.Errorf("queued %d and %d, total %d", a.queued, b.queued, l.total)
	}
}

// TestFeederBuffers: reads of every size queued one after the other keep
// each pooled buffer's chunks together in the queue (chunks without a
// pooled buffer may lie between), as the decoding goroutine gives a
// buffer back once it moved past its chunks; every chunk holds the bytes
// pushed.
func TestFeederBuffers(t *testing.T) {
	p := &Proxy{lag: newLag()}
	p.buffers.New = func() any { b := make([]byte, relayBuffer); return &b }
	p.small.New = func() any { b := make([]byte, smallBuffer); return &b }
	p.bulk.New = func() any { b := make([]byte, bulkBuffer); return &b }
	f := &feeder{lag: p.lag, buffers: &p.buffers, small: &p.small, bulk: &p.bulk, wake: make(chan struct{}, 1)}
	f.startTimer(wakeDelay)
	var pushed [][]byte
	for i, size := range []int{100, 3000, relayBuffer, 200, relayBuffer + 1, 50, 9000, bulkBuffer, 7, bulkBuffer + 10, 300} {
		b := bytes.Repeat([]byte{byte(i + 1)}, size)
		f.push(decode.Client, time.Time{}, b)
		pushed = append(pushed, b)
	}
	if len(f.queue) != len(pushed) {
		t.Fatalf("%d chunks queued for %d pushes", len(f.queue), len(pushed))
	}
	done := map[*[]byte]bool{} // buffers the decoder would have given back
	var cur *[]byte
	for i, c := range f.queue {
		if !bytes.Equal(c.data, pushed[i]) {
			t.Fatalf("chunk %d does not hold what was pushed", i)
		}
		if c.buf == nil || c.buf == cur {
			continue
		}
		if done[c.buf] {
			t.Fatalf("chunk %d is in a buffer given back before it", i)
		}
		if cur != nil {
			done[cur] = true
		}
		cur = c.buf
	}
}

// TestFeederWake: small reads wake the decoder after a delay (wakeDelay),
// not one by one; wakeBytes of them wake it at once.
func TestFeederWake(t *testing.T) {
	p := &Proxy{lag: newLag()}
	p.small.New = func() any { b := make([]byte, smallBuffer); return &b }
	p.buffers.New = func() any { b := make([]byte, relayBuffer); return &b }
	newFeeder := func(delay time.Duration) *feeder {
		f := &feeder{lag: p.lag, buffers: &p.buffers, small: &p.small, bulk: &p.bulk, wake: make(chan struct{}, 1)}
		f.startTimer(delay)
		return f
	}

	// With the usual delay, small reads are decoded soon.
	f := newFeeder(wakeDelay)
	f.push(decode.Client, time.Time{}, []byte("a small message"))
	select {
	case <-f.wake:
	case <-time.After(5 * time.Second):
		t.Fatal("the decoder was not woken for what waits")
	}

	// With a delay that does not come in the test, only wakeBytes wake
	// it.
	f = newFeeder(time.Hour)
	for range 10 {
		f.push(decode.Client, time.Time{}, []byte("a small message"))
	}
	select {
	case <-f.wake:
		t.Fatal("small reads woke the decoder at once")
	default:
	}
	big := make([]byte, relayBuffer)
	for range wakeBytes / relayBuffer {
		f.push(decode.Server, time.Time{}, big)
	}
	select {
	case <-f.wake:
	default:
		t.Fatalf("%d bytes queued did not wake the decoder at once", wakeBytes)
	}
	f.timer.Stop()
}
