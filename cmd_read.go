package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"golang.org/x/term"
)

const readUsage = `Usage: wstap read [flags] FILE...

Decodes every WebSocket connection in the files: pcap and pcapng captures
(gzip-compressed or not, detected by content; Ethernet, VLAN, Linux cooked,
BSD loopback and raw IP link types), HAR files and wstap JSON exports.
"-" reads standard input, so that "tcpdump -w - | wstap read -" works.

Without an output flag the messages are printed as with --dump.

Flags:
`

// cmdRead implements "wstap read".
func cmdRead(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, out := commandFlags("read", readUsage, stderr)
	filterExpr := fs.String("filter", "", "decode only the packets `EXPR` selects: host, port, portrange, net, src/dst, not, and, or")
	if status, done := parseCommandFlags(fs, args); done {
		return status
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintln(stderr, "wstap read: no file given")
		fs.Usage()
		return 2
	}
	filter, err := capture.ParseFilter(*filterExpr)
	if err != nil {
		fmt.Fprintf(stderr, "wstap read: %v\n", err)
		return 2
	}
	outs, err := out.openForCommand(stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wstap read: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r := &reader{outs: outs, stdin: stdin, stderr: stderr, filter: filter, ids: &idSet{imported: map[string]bool{}}}
	if out.streams() {
		r.event = outs.Event
	}
	r.progress = wantProgress(stdout, stderr, out)
	status := 0
	for _, name := range files {
		if ctx.Err() != nil {
			break
		}
		if err := r.readFile(ctx, name); err != nil {
			fmt.Fprintf(stderr, "wstap read: %v\n", err)
			status = 1
		}
	}
	if err := outs.Close(); err != nil {
		fmt.Fprintf(stderr, "wstap read: %v\n", err)
		status = 1
	}
	return status
}

// reader reads the files of one "wstap read" into the same outputs.
type reader struct {
	outs *outputs
	// event is outs.Event when a streaming output (--dump, --ndjson) wants
	// the decoder's events, and nil otherwise: every event would cost a
	// lock the JSON and HAR writers hold while they write.
	event    decode.Listener
	stdin    io.Reader
	stderr   io.Writer
	filter   *capture.Filter
	ids      *idSet
	progress bool
}

// readFile reads one capture, HAR or JSON file ("-" is standard input).
func (r *reader) readFile(ctx context.Context, name string) error {
	var in io.Reader
	size := int64(-1)
	display := name
	if name == "-" {
		in, display = r.stdin, "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = f
	}
	counted := &countingReader{r: in}
	rd, rest, err := capture.Open(display, counted)
	if errors.Is(err, capture.ErrNotCapture) && rest != nil {
		conns, err := export.Load(display, rest)
		if err != nil {
			return err
		}
		for _, c := range conns {
			c.ID = r.ids.claim(c.ID)
			r.outs.Imported(c)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var bar *progressBar
	warn := func(msg string) {
		bar.clear()
		fmt.Fprintf(r.stderr, "wstap read: warning: %s: %s\n", display, msg)
	}
	done := startDone(r.outs.Done)
	defer done.wait()
	t := capture.NewTracker(capture.Options{
		Source: "pcap",
		Event:  r.event,
		Done:   done.done,
		// Decoding is most of the work: it runs beside reading and
		// reassembly, one decoder goroutine per core (the reading and
		// writing goroutines are lighter and share the cores with them).
		Workers: runtime.GOMAXPROCS(0),
		Warn:    warn,
		NextID:  r.ids.fresh,
		Filter:  r.filter,
	})
	var opts capture.RunOptions
	if r.progress {
		bar = &progressBar{w: r.stderr, name: display, size: size, read: counted, tracker: t}
		opts.Progress = bar.update
	}
	err = capture.Run(ctx, rd, t, opts)
	t.Close()
	bar.clear()
	switch {
	case err == nil:
	case errors.Is(err, capture.ErrTruncated), errors.Is(err, capture.ErrDamaged):
		// Everything before the damage is decoded and written: a cut
		// capture is a common, usable thing, not a failure.
		fmt.Fprintf(r.stderr, "wstap read: warning: %v\n", err)
	default:
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintf(r.stderr, "wstap read: interrupted in %s after %d records; what was decoded is written\n", display, rd.Records())
	}
	return nil
}

// doneQueue hands ended connections to the outputs on a goroutine of its
// own, in order, so that writing one connection's JSON or HAR overlaps with
// decoding the next ones. The queue is short: when the writer falls behind,
// decoding waits, and memory stays bounded.
type doneQueue struct {
	ch       chan *decode.Connection
	finished chan struct{}
}

func startDone(done func(*decode.Connection)) *doneQueue {
	q := &doneQueue{ch: make(chan *decode.Connection, 32), finished: make(chan struct{})}
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

// countingReader counts the bytes read through it, for the progress
// indicator (the bytes of the file, before any decompression).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// idSet hands out connection IDs "1", "2", ... in order, and keeps the IDs
// of imported connections unless they are already taken, so that every ID
// in one output is unique.
type idSet struct {
	next int
	// imported are the IDs imported connections took; counted IDs skip
	// them. Only imported IDs are kept, so that a capture of a million
	// connections costs no memory here.
	imported map[string]bool
}

// fresh returns the next unused numeric ID.
func (s *idSet) fresh() string {
	for {
		s.next++
		id := strconv.Itoa(s.next)
		if !s.imported[id] {
			return id
		}
	}
}

// claim returns id if it is still free, or a fresh ID.
func (s *idSet) claim(id string) string {
	if id == "" || s.imported[id] {
		return s.fresh()
	}
	if n, err := strconv.Atoi(id); err == nil && strconv.Itoa(n) == id && n >= 1 && n <= s.next {
		return s.fresh() // a counted ID already gave it out
	}
	s.imported[id] = true
	return id
}

// wantProgress says whether to show progress: only when stderr is a
// terminal, and not when that terminal also shows the --dump lines, which
// the progress line would garble.
func wantProgress(stdout, stderr io.Writer, out *outputFlags) bool {
	if !isTerminal(stderr) {
		return false
	}
	toStdout := out.dump || out.json == "-" || out.har == "-" || out.ndjson == "-"
	return !(toStdout && isTerminal(stdout))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar shows how far a read got on one line of a terminal: bytes,
// percent of the file when its size is known, and messages found.
type progressBar struct {
	w       io.Writer
	name    string
	size    int64
	read    *countingReader
	tracker *capture.Tracker
	last    time.Time
	shown   bool
}

func (p *progressBar) update() {
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	msgs := p.tracker.Stats().Messages
	if p.size > 0 {
		fmt.Fprintf(p.w, "\r\033[Kreading %s: %s of %s (%d%%), %d messages", p.name, mb(p.read.n), mb(p.size), p.read.n*100/p.size, msgs)
	} else {
		fmt.Fprintf(p.w, "\r\033[Kreading %s: %s, %d messages", p.name, mb(p.read.n), msgs)
	}
	p.shown = true
}

// clear removes the progress line (the next update draws it again).
func (p *progressBar) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
