package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/wstap/wstap/export"
	"golang.org/x/term"
)

// outputFlags are the output flags of read, capture, proxy and demo.
type outputFlags struct {
	json, har, ndjson string
	dump              bool
	quiet             bool
	// tui is set by settle when the terminal UI is to open.
	tui bool
	// live is set by the commands whose source cannot wait for the
	// outputs (capture, proxy, demo): see session.StoreOptions.Live.
	live          bool
	color         string
	redact        bool
	redactHeaders []string
	redactQuery   []string
	spillDir      string
}

// Values of --color.
const (
	colorAuto   = "auto"
	colorAlways = "always"
	colorNever  = "never"
)

// register adds the output flags to fs.
func (o *outputFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.json, "json", "", "write everything as wstap JSON to `FILE` (\"-\" = stdout); written to a temporary file and renamed when the run succeeds")
	fs.StringVar(&o.har, "har", "", "write a HAR 1.2 file (the shape Chrome DevTools reads) to `FILE` (\"-\" = stdout); renamed into place when the run succeeds")
	fs.StringVar(&o.ndjson, "ndjson", "", "stream one JSON event per line to `FILE` (\"-\" = stdout); written in place as events happen, so it keeps them even when the run fails or is killed")
	fs.BoolVar(&o.dump, "dump", false, "print one line per connection, message, problem and close on stdout instead of opening the terminal UI (on by default when stdout is not a terminal, and beside file outputs on a terminal)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "do not print the dump on a terminal when writing files")
	fs.StringVar(&o.color, "color", colorAuto, "color the dump: `WHEN` is auto (on a terminal, unless NO_COLOR is set), always or never")
	fs.BoolVar(&o.redact, "redact", false, "hide the values of Authorization, Proxy-Authorization, Cookie, Set-Cookie and token-like query parameters in every output")
	fs.StringArrayVar(&o.redactHeaders, "redact-header", nil, "hide the value of header `NAME` in every output (repeatable)")
	fs.StringArrayVar(&o.redactQuery, "redact-query", nil, "hide the value of query parameter `NAME` in every output (repeatable)")
	fs.StringVar(&o.spillDir, "spill-dir", "", "keep the payloads of the session in a file in `DIR` instead of the temporary directory (the file is removed at exit)")
	for _, name := range []string{"json", "har", "ndjson", "dump", "quiet", "color", "redact", "redact-header", "redact-query", "spill-dir"} {
		fs.SetAnnotation(name, outputFlagGroup, []string{"true"})
	}
}

// files reports whether an output to a file or stdout other than the dump
// was asked for.
func (o *outputFlags) files() bool {
	return o.json != "" || o.har != "" || o.ndjson != ""
}

// enabled reports whether any output was asked for (then the command runs
// without the UI).
func (o *outputFlags) enabled() bool { return o.files() || o.dump }

func (o *outputFlags) options() export.Options {
	return export.Options{
		Redact: export.Redaction{
			Defaults: o.redact,
			Headers:  o.redactHeaders,
			Query:    o.redactQuery,
		},
		Version: buildVersion(),
	}
}

// settle decides what the flags leave open: without an output flag, on a
// terminal, the terminal UI opens; elsewhere the dump is the default
// output, and it is the live view beside file outputs when stdout is a
// terminal, unless --quiet. It also checks combinations that would mix
// two formats in one stream.
func (o *outputFlags) settle(stdout io.Writer) error {
	for _, name := range o.redactHeaders {
		if strings.TrimSpace(name) == "" {
			return usagef("--redact-header needs a header name")
		}
	}
	for _, name := range o.redactQuery {
		if strings.TrimSpace(name) == "" {
			return usagef("--redact-query needs a parameter name")
		}
	}
	switch o.color {
	case colorAuto, colorAlways, colorNever:
	default:
		return usagef("--color %q: want auto, always or never", o.color)
	}
	if !o.dump && !o.files() && !o.quiet && isTerminal(stdout) {
		o.tui = true
	} else if !o.dump && !o.quiet && (!o.files() || isTerminal(stdout)) && o.json != "-" && o.har != "-" && o.ndjson != "-" {
		o.dump = true
	}
	var toStdout []string
	if o.dump {
		toStdout = append(toStdout, "--dump")
	}
	seen := map[string]string{}
	for _, p := range o.paths() {
		if p.path == "-" {
			toStdout = append(toStdout, p.flag+" -")
			continue
		}
		abs, err := filepath.Abs(p.path)
		if err != nil {
			abs = p.path
		}
		if prev, ok := seen[abs]; ok {
			return usagef("%s and %s both write to %s; give each its own file", prev, p.flag, p.path)
		}
		seen[abs] = p.flag
	}
	if len(toStdout) > 1 {
		return usagef("%s all write to stdout; send all but one of them to a file", strings.Join(toStdout, " and "))
	}
	return nil
}

// outputPath is an output file and the flag that named it.
type outputPath struct{ flag, path string }

// paths returns the output files that were asked for.
func (o *outputFlags) paths() []outputPath {
	var ps []outputPath
	for _, p := range []outputPath{{"--json", o.json}, {"--har", o.har}, {"--ndjson", o.ndjson}} {
		if p.path != "" {
			ps = append(ps, p)
		}
	}
	return ps
}

// colorOn says whether the dump on w is colored: --color always, or auto
// on a terminal when NO_COLOR (https://no-color.org) is not set.
func (o *outputFlags) colorOn(w io.Writer) bool {
	switch o.color {
	case colorAlways:
		return true
	case colorNever:
		return false
	}
	return isTerminal(w) && os.Getenv("NO_COLOR") == ""
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
