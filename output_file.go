package main

import (
	"io"

	"github.com/wstap/wstap/internal/outfile"
)

// A user's files are sacred: an output never replaces one of the inputs or
// a capture, a failed run leaves an existing file as it was, and an output
// that cannot be written fails before anything is decoded. Package
// outfile decides it, for the commands and for the terminal UI's exports
// alike; these are its names in the commands.

// inputFile is an input the outputs must not overwrite.
type inputFile = outfile.Input

// statInputs stats the inputs that are files ("-" is stdin: its file,
// when it is one, is checked too).
func statInputs(names []string, stdin io.Reader) []inputFile {
	return outfile.StatInputs(names, stdin)
}

// sniffCapture returns what kind of capture the file at path starts like,
// or "".
func sniffCapture(path string) string { return outfile.SniffCapture(path) }

// checkOutput refuses an output path that would destroy something (see
// outfile.Check), before anything is read.
func checkOutput(p outputPath, inputs []inputFile) error {
	return outfile.Check(p.flag, p.path, inputs)
}

// atomicFile is an output written to a temporary file and renamed into
// place by commit (outfile.Atomic).
type atomicFile struct{ *outfile.Atomic }

// createAtomic opens the output for path; stdout is where "-" writes.
func createAtomic(path string, stdout io.Writer) (*atomicFile, error) {
	a, err := outfile.CreateAtomic(path, stdout)
	if err != nil {
		return nil, err
	}
	return &atomicFile{a}, nil
}

func (a *atomicFile) commit() error { return a.Commit() }
func (a *atomicFile) discard()      { a.Discard() }

// createStreaming creates a streaming output in place (outfile.CreateStreaming).
func createStreaming(path string, stdout io.Writer) (io.WriteCloser, error) {
	return outfile.CreateStreaming(path, stdout)
}
