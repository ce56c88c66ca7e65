package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
)

// outputFlags holds the common output flags of read/proxy/capture/demo:
// --json FILE, --har FILE, --ndjson FILE ("-" = stdout), --dump,
// --redact, --redact-header NAME (repeatable), --redact-query NAME (repeatable).
type outputFlags struct {
	json, har, ndjson string
	dump              bool
	redact            bool
	redactHeaders     outputNames
	redactQuery       outputNames
}

// commandFlags creates the flag set of a command, with the common output
// flags and the command's usage text.
func commandFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *outputFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := &outputFlags{}
	out.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	return fs, out
}

// parseCommandFlags parses a command's arguments. done is set when the
// command must return status at once: 0 after -h, 2 after a usage error
// (the flag package has printed it).
func parseCommandFlags(fs *flag.FlagSet, args []string) (status int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	return 0, false
}

// outputNames is a repeatable flag value.
type outputNames []string

func (n *outputNames) String() string { return strings.Join(*n, ",") }

func (n *outputNames) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("a name is required")
	}
	*n = append(*n, v)
	return nil
}

// register adds the flags to fs.
func (o *outputFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.json, "json", "", "write the session as wstap JSON to `FILE` (\"-\" = stdout)")
	fs.StringVar(&o.har, "har", "", "write the session as HAR 1.2 to `FILE` (\"-\" = stdout)")
	fs.StringVar(&o.ndjson, "ndjson", "", "stream one JSON event per line to `FILE` as it happens (\"-\" = stdout)")
	fs.BoolVar(&o.dump, "dump", false, "print one line per message on stdout")
	fs.BoolVar(&o.redact, "redact", false, "hide the values of Authorization, Proxy-Authorization, Cookie, Set-Cookie and token-like query parameters in every output")
	fs.Var(&o.redactHeaders, "redact-header", "hide the value of header `NAME` in every output (repeatable)")
	fs.Var(&o.redactQuery, "redact-query", "hide the value of query parameter `NAME` in every output (repeatable)")
}

// enabled reports whether any output was asked for (then the command runs
// without the UI).
func (o *outputFlags) enabled() bool {
	return o.json != "" || o.har != "" || o.ndjson != "" || o.dump
}

func (o *outputFlags) options() export.Options {
	return export.Options{Redact: export.Redaction{
		Defaults: o.redact,
		Headers:  o.redactHeaders,
		Query:    o.redactQuery,
	}}
}

// check refuses combinations that would mix two formats in one stream.
func (o *outputFlags) check() error {
	var toStdout []string
	if o.dump {
		toStdout = append(toStdout, "--dump")
	}
	files := map[string]string{}
	for _, f := range []struct{ flag, path string }{{"--json", o.json}, {"--har", o.har}, {"--ndjson", o.ndjson}} {
		switch f.path {
		case "":
		case "-":
			toStdout = append(toStdout, f.flag+" -")
		default:
			abs, err := filepath.Abs(f.path)
			if err != nil {
				abs = f.path
			}
			if prev, ok := files[abs]; ok {
				return fmt.Errorf("%s and %s both write to %s; give each its own file", prev, f.flag, f.path)
			}
			files[abs] = f.flag
		}
	}
	if len(toStdout) > 1 {
		return fmt.Errorf("%s all write to stdout; send all but one of them to a file", strings.Join(toStdout, " and "))
	}
	return nil
}

// open creates the outputs. stdout is where --dump and "--ndjson -" write.
func (o *outputFlags) open(stdout io.Writer) (*outputs, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	opts := o.options()
	out := &outputs{}
	if o.dump {
		out.dump = export.NewDumper(stdout, opts)
	}
	if o.ndjson != "" {
		w := stdout
		if o.ndjson != "-" {
			// Written in place, not renamed at the end: the point of the
			// stream is that a process killed mid-run leaves every event
			// it saw on disk.
			f, err := os.Create(o.ndjson)
			if err != nil {
				return nil, fmt.Errorf("creating the NDJSON stream: %w", err)
			}
			out.ndjsonFile = f
			w = f
		}
		out.ndjson = export.NewNDJSONWriter(w, opts)
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
		s, err := out.create(x.path, stdout)
		if err != nil {
			out.abort()
			return nil, fmt.Errorf("creating the %s: %w", x.what, err)
		}
		s.w = x.start(s.out, opts)
	}
	return out, nil
}

// outputs are the open output streams of one command. Its methods may be
// called from several goroutines (the proxy decodes each connection on its
// own); a mutex keeps each event and connection whole in every stream.
type outputs struct {
	mu     sync.Mutex
	dump   *export.Dumper
	ndjson *export.NDJSONWriter
	// exports are --json and --har: written per connection by Done.
	exports []*exportFile

	ndjsonFile *os.File
	err        error
	closed     bool
}

// connWriter is a whole-session export: export.JSONWriter or HARWriter.
type connWriter interface {
	Write(c *decode.Connection) error
	Close() error
}

// exportFile is a whole-session export. A file is written to a temporary
// file next to its final name and renamed into place by Close, so that a
// reader never sees half a file and a failed run leaves any previous file
// untouched. Its error is its own: a broken --dump pipe does not cost the
// JSON file.
type exportFile struct {
	w     connWriter
	out   io.Writer
	final string   // "" for stdout
	tmp   *os.File // nil for stdout
	// direct is a device or pipe written in place, not renamed into.
	direct *os.File
	err    error
}

func (o *outputs) create(path string, stdout io.Writer) (*exportFile, error) {
	x := &exportFile{out: stdout}
	if st, err := os.Stat(path); err == nil && path != "-" && st.Mode()&(os.ModeDevice|os.ModeNamedPipe|os.ModeSocket) != 0 {
		// A device or a pipe (--json /dev/null, a FIFO) is written in
		// place: renaming a file over it would replace it.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		x.direct, x.out = f, f
		o.exports = append(o.exports, x)
		return x, nil
	}
	if path != "-" {
		dir, base := filepath.Split(path)
		if dir == "" {
			dir = "."
		}
		f, err := os.CreateTemp(dir, "."+base+".*.tmp")
		if err != nil {
			return nil, err
		}
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		x.final, x.tmp, x.out = path, f, f
	}
	o.exports = append(o.exports, x)
	return x, nil
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

// streams reports whether a streaming output (--dump, --ndjson) was asked
// for.
func (o *outputFlags) streams() bool { return o.dump || o.ndjson != "" }

// openForCommand opens the outputs of a command. Without any output flag
// it prints the dump, since the terminal UI does not exist yet; with the
// dump on, problems go to stderr one per line.
func (o *outputFlags) openForCommand(stdout, stderr io.Writer) (*outputs, error) {
	if !o.enabled() {
		o.dump = true
	}
	outs, err := o.open(stdout)
	if err != nil {
		return nil, err
	}
	outs.reportProblems(stderr)
	return outs, nil
}

// reportProblems prints the problems the decoders find to w, one line
// each, when --dump is on: a reader of the dump should not have to ask for
// the JSON to learn that the traffic breaks the protocol.
func (o *outputs) reportProblems(w io.Writer) {
	if o.dump != nil {
		o.dump.ReportProblems(w)
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
	for _, x := range o.exports {
		if x.err == nil {
			x.err = x.w.Write(c)
		}
	}
}

// Imported handles a connection loaded from a HAR or JSON file (no decoder
// events exist for it): it produces the same per-event output (--dump,
// --ndjson) from the connection's contents, then calls Done.
func (o *outputs) Imported(c *decode.Connection) {
	export.Replay(c, o.Event)
	o.Done(c)
}

// Close finishes every output file (written to a temporary file in the same
// directory and renamed into place, so nothing is half-written) and
// returns the first error.
func (o *outputs) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return o.err
	}
	o.closed = true
	if o.ndjsonFile != nil {
		if err := o.ndjsonFile.Close(); err != nil {
			o.fail(fmt.Errorf("closing %s: %w", o.ndjsonFile.Name(), err))
		}
	}
	for _, x := range o.exports {
		if err := x.finish(); err != nil {
			o.fail(err)
		}
	}
	return o.err
}

// finish writes the end of the export and renames the file into place, or
// removes it when anything failed.
func (x *exportFile) finish() error {
	if x.err == nil {
		x.err = x.w.Close()
	}
	if x.direct != nil {
		if err := x.direct.Close(); x.err == nil {
			x.err = err
		}
		return x.err
	}
	if x.tmp == nil {
		return x.err
	}
	name := x.tmp.Name()
	if x.err == nil {
		x.err = x.tmp.Sync()
	}
	if err := x.tmp.Close(); x.err == nil {
		x.err = err
	}
	if x.err == nil {
		x.err = os.Rename(name, x.final)
	}
	if x.err != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", x.final, x.err)
	}
	return nil
}

// abort removes what open created before it failed.
func (o *outputs) abort() {
	if o.ndjsonFile != nil {
		o.ndjsonFile.Close()
		os.Remove(o.ndjsonFile.Name()) // nothing was written to it yet
	}
	for _, x := range o.exports {
		if x.tmp != nil {
			x.tmp.Close()
			os.Remove(x.tmp.Name())
		}
		if x.direct != nil {
			x.direct.Close()
		}
	}
	o.exports = nil
}
