// Package outfile is where wstap decides that an output may be written: a
// user's files are sacred. An output never replaces one of the inputs or
// a capture, a failed run leaves an existing file as it was, and an output
// that cannot be written fails before anything is decoded. The command
// line and the terminal UI's exports both go through it.
package outfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Input is an input the outputs must not overwrite: its name as given
// and what os.Stat said of it.
type Input struct {
	Name string
	Info fs.FileInfo
}

// StatInputs stats the inputs that are files ("-" is stdin: its file,
// when it is one, is checked too, for "wstap read - --json x < x").
func StatInputs(names []string, stdin io.Reader) []Input {
	var ins []Input
	for _, n := range names {
		var st fs.FileInfo
		var err error
		if n == "-" {
			f, ok := stdin.(*os.File)
			if !ok {
				continue
			}
			st, err = f.Stat()
		} else {
			st, err = os.Stat(n)
		}
		if err == nil {
			ins = append(ins, Input{n, st})
		}
	}
	return ins
}

// captureMagic are the first bytes of the files an output must never
// replace: pcap in both byte orders and timestamp resolutions, pcapng,
// and gzip (a compressed capture, or anything else somebody kept).
var captureMagic = [][]byte{
	{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, // pcap, microseconds
	{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, // pcap, nanoseconds
	{0x0a, 0x0d, 0x0d, 0x0a}, // pcapng section header block
	{0x1f, 0x8b},             // gzip
}

// SniffCapture returns what kind of capture the file at path starts like,
// or "" when it does not look like one (or cannot be read).
func SniffCapture(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	for i, m := range captureMagic {
		if n >= len(m) && bytes.Equal(head[:len(m)], m) {
			switch {
			case i < 4:
				return "pcap capture"
			case i == 4:
				return "pcapng capture"
			}
			return "gzip file"
		}
	}
	return ""
}

// Check refuses an output path that would destroy something, before
// anything is written: one of the inputs, an existing capture, a
// directory or a read-only file. "-" (stdout) and devices or pipes
// (/dev/null, a FIFO), which are written in place and never replaced,
// pass. label names the output in the messages: the flag on the command
// line ("--json"), or "" where the path alone says it.
func Check(label, path string, inputs []Input) error {
	if path == "-" {
		return nil
	}
	name := path
	if label != "" {
		name = label + " " + path
	}
	st, err := os.Stat(path)
	if err == nil {
		for _, in := range inputs {
			if os.SameFile(st, in.Info) {
				return fmt.Errorf("%s: that is the input %s; wstap never writes over its input (give the output another name)", name, in.Name)
			}
		}
		switch {
		case st.IsDir():
			return fmt.Errorf("%s: is a directory; give a file name", name)
		case !st.Mode().IsRegular():
			return nil // a device or a pipe: written in place
		}
		if kind := SniffCapture(path); kind != "" {
			if label == "" {
				return fmt.Errorf("%s: the file exists and is a %s; wstap never overwrites a capture", name, kind)
			}
			return fmt.Errorf("%s: the file exists and is a %s; wstap never overwrites a capture (did you mean to read it? outputs take a file name: %s OUT.%s)",
				name, kind, label, outputExt(label))
		}
		if st.Mode().Perm()&0o222 == 0 {
			return fmt.Errorf("%s: the file is read-only", name)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, err)
	}
	// Whether the directory takes a new file is only known by making one;
	// the output's own temporary file (or its streaming file) is made
	// before decoding starts, so that the answer comes at once.
	return nil
}

// outputExt is the usual extension of what a flag writes, for messages.
func outputExt(flag string) string {
	switch flag {
	case "--json":
		return "json"
	case "--har":
		return "har"
	case "--ndjson":
		return "ndjson"
	}
	return "pcapng"
}

// Atomic is an output written to a temporary file beside its final name
// and renamed into place by Commit: a reader never sees half a file, and
// a run that fails leaves an existing file exactly as it was (Discard). A
// device or a pipe (--json /dev/null, a FIFO) is written in place, since
// renaming over it would replace it; "-" is stdout.
type Atomic struct {
	io.Writer
	final string
	tmp   *os.File // the temporary file, or nil
	// direct is a device or pipe written in place.
	direct *os.File
}

// CreateAtomic opens the output for path; stdout is where "-" writes.
func CreateAtomic(path string, stdout io.Writer) (*Atomic, error) {
	if path == "-" {
		return &Atomic{Writer: stdout}, nil
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &Atomic{Writer: f, final: path, direct: f}, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, err
	}
	// CreateTemp makes the file 0600; an export is an ordinary file for
	// others to read, as os.Create would have made it under the usual
	// umask.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &Atomic{Writer: f, final: path, tmp: f}, nil
}

// Commit makes the written file the output: synced, then renamed into
// place. On failure the temporary file is removed and the error says
// which output it was.
func (a *Atomic) Commit() error {
	if a.direct != nil {
		return a.direct.Close()
	}
	if a.tmp == nil {
		return nil
	}
	name := a.tmp.Name()
	err := a.tmp.Sync()
	if cerr := a.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, a.final)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("writing %s: %w", a.final, err)
	}
	return nil
}

// Discard throws away what was written; an existing file at the final
// name is left as it was.
func (a *Atomic) Discard() {
	if a.direct != nil {
		a.direct.Close()
	}
	if a.tmp != nil {
		a.tmp.Close()
		os.Remove(a.tmp.Name())
	}
}

// CreateStreaming creates a streaming output (NDJSON, a capture being
// written) in place: the point of a stream is that a process killed
// mid-run leaves every event or packet it saw on disk, so it is not
// renamed at the end.
func CreateStreaming(path string, stdout io.Writer) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{stdout}, nil
	}
	return os.Create(path)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
