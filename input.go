package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/export"
)

// input is one file given to read, opened and recognised from its first
// bytes: a capture, or a HAR or wstap JSON export. Anything else is
// refused before a byte of it is decoded.
type input struct {
	name    string // as given; "-" is stdin
	display string // for messages: the name, or "stdin"
	size    int64  // of a regular file, for progress; -1 otherwise
	closer  io.Closer
	// counted counts the bytes read from the file, before any
	// decompression, for the progress line.
	counted *countingReader
	// Exactly one of these is set.
	capture *capture.Reader
	export  *bufio.Reader
}

// openInput opens the input called name and recognises its format. Reads
// from anything but a regular file (stdin, a pipe, a device) return when
// ctx is done, so that a stream that never ends or never sends stops on
// SIGINT like everything else.
func openInput(ctx context.Context, name string, stdin io.Reader) (*input, error) {
	in := &input{name: name, display: name, size: -1}
	var r io.Reader
	regular := false
	if name == "-" {
		in.display, r = "stdin", stdin
		if f, ok := stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				regular, in.size = true, st.Size()
			}
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s: is a directory; give capture, HAR or JSON files", name)
		}
		in.closer, r = f, f
		if st.Mode().IsRegular() {
			regular, in.size = true, st.Size()
		}
	}
	if !regular {
		r = newContextReader(ctx, r)
	}
	in.counted = &countingReader{r: r}
	rd, rest, err := capture.Open(in.display, in.counted)
	switch {
	case err == nil:
		in.capture = rd
		return in, nil
	case errors.Is(err, capture.ErrNotCapture) && rest != nil:
		br, ok := rest.(*bufio.Reader)
		if !ok {
			br = bufio.NewReader(rest)
		}
		if serr := export.Sniff(in.display, br); serr != nil {
			in.Close()
			var ne *export.NotExportError
			switch {
			case ctx.Err() != nil:
				return nil, fmt.Errorf("%s: interrupted before anything was read", in.display)
			case errors.As(serr, &ne):
				return nil, fmt.Errorf("%s: not a pcap or pcapng capture (gzip-compressed or not), nor a HAR or wstap JSON export: %s", in.display, ne.What)
			}
			return nil, serr
		}
		in.export = br
		return in, nil
	}
	in.Close()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: interrupted before anything was read", in.display)
	}
	return nil, err
}

// Close closes the file (stdin is left open).
func (in *input) Close() error {
	if in.closer != nil {
		return in.closer.Close()
	}
	return nil
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

// contextReaderBuffer is the most one read through a contextReader takes:
// the size of the capture reader's read-ahead, so that a pipe is read in
// the same steps as a file.
const contextReaderBuffer = 256 << 10

// contextReader reads r on a goroutine of its own, so that a Read blocked
// on a pipe whose writer never writes again, or never closes it, returns
// when ctx is done. The reading goroutine reads into a buffer of its own:
// when ctx ends it may still be blocked, and must not write into memory
// the caller has moved on from. It ends with the process (a read that
// never returns cannot be stopped any other way short of closing the
// descriptor, which for stdin would be another program's business).
type contextReader struct {
	ctx     context.Context
	r       io.Reader
	want    chan int
	got     chan readResult
	pending bool
	err     error
}

type readResult struct {
	data []byte
	err  error
}

func newContextReader(ctx context.Context, r io.Reader) *contextReader {
	c := &contextReader{ctx: ctx, r: r, want: make(chan int), got: make(chan readResult)}
	go c.loop()
	return c
}

func (c *contextReader) loop() {
	buf := make([]byte, contextReaderBuffer)
	for n := range c.want {
		k, err := c.r.Read(buf[:min(n, len(buf))])
		select {
		case c.got <- readResult{buf[:k], err}:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *contextReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !c.pending {
		select {
		case c.want <- len(p):
			c.pending = true
		case <-c.ctx.Done():
			c.err = c.ctx.Err()
			return 0, c.err
		}
	}
	select {
	case res := <-c.got:
		c.pending = false
		n := copy(p, res.data)
		if res.err != nil {
			c.err = res.err
			close(c.want)
		}
		return n, res.err
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return 0, c.err
	}
}
