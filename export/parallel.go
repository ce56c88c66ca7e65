package export

import (
	"cmp"
	"runtime"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// A long-lived socket's frames and messages (hundreds of thousands of
// them) are rendered by several goroutines, each a run of elements at a
// time, and written in order. A capture of long-lived sockets ends them all
// at its end, when nothing but the export is left to do, and one goroutine
// rendering them left the other cores idle: on two cores the JSON of 20
// such connections (1.2 GB) took 2.2 s alone, half of the whole run.
const (
	// parallelRun is how many elements one goroutine renders at a time.
	// Each goroutine reads payloads through a copy of up to 64 KiB of
	// the spill file (see session), and a run's last copy reads into the
	// payloads of the next run, which another goroutine reads again:
	// with runs of 512 the long capture shape read 315 MB of its 480
	// twice. Runs of 2048 make that a quarter.
	parallelRun = 2048
	// parallelFrom is the length from which a list is rendered in
	// parallel: a shorter one is not worth the goroutines.
	parallelFrom = 2048
	// runBlocks bounds what a run rendered ahead of its turn holds, in
	// blocks of at least spillSize (64 KiB; 2048 frames are about 500
	// KB): its goroutine then waits until the run's turn comes. Memory
	// stays bounded whatever the elements' size (a run of 64 MiB
	// messages), at the cost of parallelism only for such runs.
	runBlocks = 64
)

// itemWriter writes element i of a list on e, and returns the first error
// reading what it writes (it then writes a placeholder, and the export
// must not be used). It may keep state from one element to the next.
type itemWriter func(e *jw, i int) error

// messageItems makes the writers of a list of messages that write each
// with write.
func messageItems(write func(e *jw, m *decode.Message)) func(session.ConnSource) itemWriter {
	return func(src session.ConnSource) itemWriter {
		return func(e *jw, i int) error {
			m, err := src.Message(i)
			if err != nil {
				e.raw("null")
				return err
			}
			write(e, m)
			return nil
		}
	}
}

// writeLongList writes a list as writeList does, with the elements that
// newItem's writers write: each goroutine gets one writer of its own,
// made for its own fork of src. It returns the first error of any of them.
func writeLongList(e *jw, in string, n int, src session.ConnSource, newItem func(session.ConnSource) itemWriter) error {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelFrom || workers < 2 || in == "" {
		var err error
		item := newItem(src)
		writeList(e, in, n, func(i int) { err = cmp.Or(err, item(e, i)) })
		return err
	}
	type run struct {
		from, to int
		// blocks carries the run's output, in order; closed at its end.
		blocks chan []byte
		err    error
	}
	// runs are handed to the goroutines and to the writer below in the
	// same order; the writer waits for each in turn, and at most
	// workers+1 are under way.
	jobs := make(chan *run)
	queue := make(chan *run, workers+1)
	// free are blocks written out, for the goroutines to fill again: a
	// long list is gigabytes of them, and garbage that size made the
	// collector run all along.
	free := make(chan []byte, (workers+1)*runBlocks)
	go func() {
		for from := 0; from < n; from += parallelRun {
			r := &run{from: from, to: min(from+parallelRun, n), blocks: make(chan []byte, runBlocks)}
			queue <- r
			jobs <- r
		}
		close(jobs)
		close(queue)
	}()
	for range workers {
		go func() {
			item := newItem(src.Fork())
			out := &blockWriter{free: free}
			w := newJW(out)
			for r := range jobs {
				out.blocks = r.blocks
				for i := r.from; i < r.to; i++ {
					if i > 0 {
						w.raw(",")
					}
					w.raw("\n")
					w.raw(in)
					w.raw("  ")
					r.err = cmp.Or(r.err, item(w, i))
				}
				w.writeOut()
				close(r.blocks)
			}
		}()
	}
	e.raw("[")
	e.writeOut()
	var err error
	for r := range queue {
		for b := range r.blocks {
			if e.err == nil {
				_, e.err = e.w.Write(b)
			}
			select {
			case free <- b[:0]:
			default:
			}
		}
		err = cmp.Or(err, r.err)
	}
	e.raw("\n")
	e.raw(in)
	e.raw("]")
	return err
}

// blockWriter hands what a run's jw writes out to the run's channel, a
// copy at a time (jw reuses its buffer), in a block from free when there
// is one.
type blockWriter struct {
	blocks chan []byte
	free   chan []byte
}

func (b *blockWriter) Write(p []byte) (int, error) {
	var block []byte
	select {
	case block = <-b.free:
	default:
	}
	b.blocks <- append(block, p...)
	return len(p), nil
}
