package main

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
)

// dumpFlushEvery is how often the dump is flushed: soon enough to read as
// live, while a burst of messages costs one write, not one per line.
const dumpFlushEvery = 100 * time.Millisecond

// outputs are the open outputs of one command run. Its methods may be
// called from several goroutines (the proxy decodes each connection on its
// own); a mutex keeps each event and connection whole in every stream.
type outputs struct {
	mu     sync.Mutex
	dump   *export.Dumper
	ndjson *export.NDJSONWriter
	// exports are --json and --har: written per connection by Done.
	exports    []*exportFile
	ndjsonFile io.WriteCloser
	err        error
	closed     bool
	stats      runStats

	stopFlush chan struct{}
	flushed   chan struct{}
}

// runStats count what a run decoded, for the summary line and for
// --fail-on-problems.
type runStats struct {
	connections, messages, problems, errors int64
}

// String is the summary: "2 connections, 14 messages, 1 problem (1 error)".
func (s runStats) String() string {
	line := plural(s.connections, "connection") + ", " + plural(s.messages, "message") + ", " + plural(s.problems, "problem")
	if s.problems > 0 {
		line += " (" + plural(s.errors, "error") + ")"
	}
	return line
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int64, noun string) string {
	s := strconv.FormatInt(n, 10) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}

// connWriter is a whole-session export: export.JSONWriter or HARWriter.
type connWriter interface {
	Write(c *decode.Connection) error
	Close() error
}

// exportFile is a whole-session export and the file it goes to. Its error
// is its own: a broken --dump pipe does not cost the JSON file.
type exportFile struct {
	w    connWriter
	file *atomicFile
	what string
	err  error
}

// check refuses outputs that would destroy a file (see checkOutput), before
// any input is opened. A refusal is a usage error: the command line asks
// for something wstap will not do.
func (o *outputFlags) check(inputs []inputFile, extra ...outputPath) error {
	for _, p := range append(o.paths(), extra...) {
		if err := checkOutput(p, inputs); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// open creates the outputs, once the inputs have opened: the streaming
// ones in place, the exports as temporary files. stdout is where --dump
// and "-" write.
func (o *outputFlags) open(stdout io.Writer) (*outputs, error) {
	opts := o.options()
	out := &outputs{}
	if o.dump {
		out.dump = export.NewDumper(stdout, opts)
		out.dump.SetColor(o.colorOn(stdout))
	}
	for _, x := range []struct {
		path, what string
		start      func(io.Writer, export.Options) connWriter
	}{
		{o.json, "JSON export", func(w io.Writer, opts export.Options) connWriter { return export.NewJSONWriter(w, opts) }},
		{o.har, "HAR export", func(w io.Writer, opts export.Options) connWriter { return export.NewHARWriter(w, opts) }},
	} {
		if x.path == "" {
			continue
		}
		f, err := createAtomic(x.path, stdout)
		if err != nil {
			out.abort()
			return nil, fmt.Errorf("creating the %s: %w", x.what, err)
		}
		out.exports = append(out.exports, &exportFile{w: x.start(f, opts), file: f, what: x.what})
	}
	// The stream last: it is created in place, so nothing that can still
	// fail comes after it.
	if o.ndjson != "" {
		f, err := createStreaming(o.ndjson, stdout)
		if err != nil {
			out.abort()
			return nil, fmt.Errorf("creating the NDJSON stream: %w", err)
		}
		out.ndjsonFile = f
		out.ndjson = export.NewNDJSONWriter(f, opts)
	}
	if out.dump != nil {
		out.stopFlush, out.flushed = make(chan struct{}), make(chan struct{})
		go out.flushDump()
	}
	return out, nil
}

// flushDump flushes the dump on a timer until Close.
func (o *outputs) flushDump() {
	defer close(o.flushed)
	tick := time.NewTicker(dumpFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-o.stopFlush:
			return
		case <-tick.C:
			o.mu.Lock()
			if o.dump != nil {
				if err := o.dump.Flush(); err != nil {
					o.fail(err)
					o.dump = nil
				}
			}
			o.mu.Unlock()
		}
	}
}

// fail records the first error; the outputs go on with the other streams.
func (o *outputs) fail(err error) {
	if err != nil && o.err == nil {
		o.err = err
	}
}

// Event is passed as the decode.Listener of every decoder: streaming
// outputs (--dump, --ndjson) write as events happen.
func (o *outputs) Event(e decode.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if o.dump != nil {
		if err := o.dump.Event(e); err != nil {
			o.fail(err)
			o.dump = nil
		}
	}
	if o.ndjson != nil {
		if err := o.ndjson.Event(e); err != nil {
			o.fail(err)
			o.ndjson = nil
		}
	}
}

// Done is called exactly once per connection, when it has ended and will
// not change again. --json and --har write the connection out then, so the
// caller may drop it afterwards (memory does not grow with the capture).
func (o *outputs) Done(c *decode.Connection) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.count(c)
	for _, x := range o.exports {
		if x.err == nil {
			x.err = x.w.Write(c)
		}
	}
}

// count adds an ended connection to the run's totals.
func (o *outputs) count(c *decode.Connection) {
	o.stats.connections++
	o.stats.messages += int64(c.MessageCount)
	o.stats.problems += int64(c.ProblemCount + c.SuppressedProblems)
	for i := range c.Problems {
		if c.Problems[i].Severity == decode.Error {
			o.stats.errors++
		}
	}
}

// Stats returns what was decoded so far.
func (o *outputs) Stats() runStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

// Imported handles a connection loaded from a HAR or JSON file (no decoder
// events exist for it): it produces the same per-event output (--dump,
// --ndjson) from the connection's contents, then calls Done.
func (o *outputs) Imported(c *decode.Connection) {
	export.Replay(c, o.Event)
	o.Done(c)
}

// Close finishes every output. With ok, the exports are completed and
// renamed into place; without (the run failed), they are thrown away and
// an existing file at their name is left as it was. The streams are
// closed either way. It returns the first error.
func (o *outputs) Close(ok bool) error {
	if o.stopFlush != nil {
		close(o.stopFlush)
		<-o.flushed
		o.stopFlush = nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return o.err
	}
	o.closed = true
	if o.dump != nil {
		o.fail(o.dump.Flush())
	}
	if o.ndjsonFile != nil {
		if err := o.ndjsonFile.Close(); err != nil {
			o.fail(fmt.Errorf("closing the NDJSON stream: %w", err))
		}
	}
	for _, x := range o.exports {
		if !ok {
			x.file.discard()
			continue
		}
		if x.err == nil {
			x.err = x.w.Close()
		}
		if x.err != nil {
			x.file.discard()
			o.fail(fmt.Errorf("writing the %s: %w", x.what, x.err))
			continue
		}
		o.fail(x.file.commit())
	}
	return o.err
}

// abort removes what open created before it failed.
func (o *outputs) abort() {
	for _, x := range o.exports {
		x.file.discard()
	}
	o.exports = nil
}

// doneQueue hands ended connections to the outputs on a goroutine of its
// own, in order, so that writing one connection's JSON or HAR overlaps with
// decoding the next ones. The queue is short: when the writer falls behind,
// decoding waits, and memory stays bounded.
type doneQueue struct {
	ch       chan *decode.Connection
	finished chan struct{}
}

// doneQueueLength is how many ended connections may wait for the writer.
const doneQueueLength = 32

func startDone(done func(*decode.Connection)) *doneQueue {
	q := &doneQueue{ch: make(chan *decode.Connection, doneQueueLength), finished: make(chan struct{})}
	go func() {
		defer close(q.finished)
		for c := range q.ch {
			done(c)
		}
	}()
	return q
}

func (q *doneQueue) done(c *decode.Connection) { q.ch <- c }

// wait returns once every queued connection was handed out.
func (q *doneQueue) wait() {
	close(q.ch)
	<-q.finished
}
