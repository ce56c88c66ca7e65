package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// outputs are the open outputs of one command run: the session store the
// tap records into, and the sinks that follow it on goroutines of their
// own (the dump and NDJSON stream as things happen; JSON and HAR get each
// connection when it ended).
type outputs struct {
	store *session.Store
	tap   *session.Tap
	// exports are --json and --har, written to temporary files.
	exports    []*exportFile
	ndjsonFile io.WriteCloser
	following  []*following
	closed     bool
}

// following is a sink following the store, what to call it in errors,
// and the export file it writes, if it is an export.
type following struct {
	f      *session.Following
	what   string
	export *exportFile
}

// runStats count what a run decoded, for the summary line and for
// --fail-on-problems.
type runStats = session.Totals

// summary is the line a run ends with: "2 connections, 14 messages,
// 1 problem (1 error)".
func summary(s runStats) string {
	line := plural(s.Connections, "connection") + ", " + plural(s.Messages, "message") + ", " + plural(s.Problems, "problem")
	if s.Problems > 0 {
		line += " (" + plural(s.Errors, "error") + ")"
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
	session.ConnSink
	Close() error
}

// exportFile is a whole-session export and the file it goes to.
type exportFile struct {
	w    connWriter
	file *atomicFile
	what string
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

// writeFlag is the capture file of -w/--write, when one is given, as an
// output to check beside the others.
func writeFlag(path string) []outputPath {
	if path == "" {
		return nil
	}
	return []outputPath{{"--write", path}}
}

// open creates the outputs, once the inputs have opened: the store and
// its tap, the streaming outputs in place, the exports as temporary files,
// and the sinks that follow the store. stdout is where --dump and "-"
// write.
func (o *outputFlags) open(stdout io.Writer) (*outputs, error) {
	// Without the terminal UI nothing browses the store once the outputs
	// wrote a connection: it is let go.
	store, err := session.NewStore(session.StoreOptions{SpillDir: o.spillDir, LetGo: !o.tui, Live: o.live})
	if err != nil {
		return nil, err
	}
	opts := o.options()
	out := &outputs{store: store, tap: session.NewTap(store, session.TapOptions{})}
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
	var nd *export.NDJSONWriter
	if o.ndjson != "" {
		f, err := createStreaming(o.ndjson, stdout)
		if err != nil {
			out.abort()
			return nil, fmt.Errorf("creating the NDJSON stream: %w", err)
		}
		out.ndjsonFile = f
		nd = export.NewNDJSONWriter(f, opts)
	}
	if o.dump {
		out.followDump(stdout, o)
	}
	if nd != nil {
		out.following = append(out.following, &following{f: store.FollowEvents(nd), what: "the NDJSON stream"})
	}
	for _, x := range out.exports {
		out.following = append(out.following, &following{f: store.FollowConns(x.w), what: "the " + x.what, export: x})
	}
	return out, nil
}

// followDump starts the dump on stdout.
func (o *outputs) followDump(stdout io.Writer, flags *outputFlags) {
	d := export.NewDumper(stdout, flags.options())
	d.SetColor(flags.colorOn(stdout))
	o.following = append(o.following, &following{f: o.store.FollowEvents(d), what: "the dump"})
}

// Stats returns what was decoded so far.
func (o *outputs) Stats() runStats { return o.store.Totals() }

// Close finishes every output: the sinks catch up with the store, then,
// with ok, the exports are completed and renamed into place; without (the
// run failed), they are thrown away and an existing file at their name is
// left as it was. The stream is closed either way, and the store with its
// spill file. It returns the first error.
func (o *outputs) Close(ok bool) error {
	if o.closed {
		return nil
	}
	o.closed = true
	var first error
	fail := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	failed := map[*exportFile]bool{}
	o.store.Draining()
	for _, f := range o.following {
		if err := f.f.Finish(); err != nil {
			fail(fmt.Errorf("writing %s: %w", f.what, err))
			if f.export != nil {
				failed[f.export] = true
			}
		}
	}
	if o.ndjsonFile != nil {
		if err := o.ndjsonFile.Close(); err != nil {
			fail(fmt.Errorf("closing the NDJSON stream: %w", err))
		}
	}
	for _, x := range o.exports {
		if !ok || failed[x] {
			x.file.discard()
			continue
		}
		if err := x.w.Close(); err != nil {
			x.file.discard()
			fail(fmt.Errorf("writing the %s: %w", x.what, err))
			continue
		}
		fail(x.file.commit())
	}
	fail(o.store.Err())
	o.store.Close()
	return first
}

// abort removes what open created before it failed.
func (o *outputs) abort() {
	for _, x := range o.exports {
		x.file.discard()
	}
	o.exports = nil
	o.store.Close()
}
