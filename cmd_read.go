package main

import (
	"errors"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/export"
)

// readCommand is "wstap read".
func (a *app) readCommand() *cobra.Command {
	var (
		out            outputFlags
		filterExpr     string
		failOnProblems bool
	)
	cmd := &cobra.Command{
		Use:   "read [flags] FILE...",
		Short: "Decode pcap, pcapng (gzip too), HAR or wstap JSON files",
		Long: `Decodes every WebSocket connection in the files: pcap and pcapng captures
(gzip-compressed or not, recognised by content; Ethernet, VLAN, Linux
cooked, BSD loopback and raw IP link types), HAR files and wstap JSON
exports. "-" reads standard input, so that "tcpdump -U -w - | wstap read -"
decodes as packets are captured.

Every file is recognised from its first bytes before anything is decoded:
a file that is none of these is refused at once, and the run fails (exit
1) without writing any output. Ctrl-C stops reading and writes what was
decoded until then (exit 130).

Without an output flag, on a terminal, the terminal UI opens (press ? in
it for its keys); --dump prints the conversation instead, one line per
message.`,
		Example: `  wstap read capture.pcapng
  wstap read capture.pcapng --har bug.har --redact
  tcpdump -i lo -U -w - port 8080 | wstap read -
  wstap read --json - session.har | jq '.connections[].problems'
  wstap read --fail-on-problems --json report.json ci-capture.pcap`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("no file given; name capture, HAR or JSON files, or - for standard input")
			}
			stdin := 0
			for _, f := range args {
				if f == "-" {
					stdin++
				}
			}
			if stdin > 1 {
				return usagef(`"-" (standard input) can be read only once`)
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveDefault // file names
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			filter, err := capture.ParseFilter(filterExpr)
			if err != nil {
				return usageError{err}
			}
			return a.runJob(cmd, func(j *job) error {
				return j.read(&out, files, filter, failOnProblems)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&filterExpr, "filter", "f", "", "decode only the packets `EXPR` selects, in tcpdump's syntax: tcp port 80, host example.com, src net 10.0.0.0/8, not port 22, ...")
	fs.BoolVar(&failOnProblems, "fail-on-problems", false, "exit with status 3 when an error-severity problem was found in the traffic (for CI pipelines)")
	out.register(fs)
	return cmd
}

// read decodes files into the outputs.
func (j *job) read(out *outputFlags, files []string, filter *capture.Filter, failOnProblems bool) error {
	if err := out.settle(j.stdout); err != nil {
		return err
	}
	inputs := statInputs(files, j.a.stdin)
	if err := out.check(inputs); err != nil {
		return err
	}
	j.uiTitle, j.protect = "read "+strings.Join(files, " "), inputs
	// Every input is opened and recognised before anything is decoded, so
	// that a wrong file fails the run before any output exists. Files are
	// closed again until their turn (a run over thousands of files must
	// not hold them all open); standard input stays open.
	var stdin *input
	for _, name := range files {
		in, err := openInput(j.ctx, name, j.a.stdin)
		if err != nil {
			if j.interrupted() {
				j.infof("interrupted while opening %s; nothing was decoded", name)
				j.fail(exitInterrupted)
				return nil
			}
			return err
		}
		if name == "-" {
			stdin = in
			continue
		}
		in.Close()
	}
	outs, err := j.openOutputs(out)
	if err != nil {
		return err
	}
	r := &reader{j: j, outs: outs, filter: filter}
	// The UI shows what is read as it comes; a progress line would
	// scribble over it.
	r.progress = wantProgress(j.stdout, j.stderr, out) && !out.tui
	for _, name := range files {
		if j.interrupted() {
			break
		}
		in := stdin
		if name != "-" {
			if in, err = openInput(j.ctx, name, j.a.stdin); err != nil {
				return err
			}
		}
		err := r.readInput(in)
		in.Close()
		if err != nil {
			return err
		}
	}
	if j.interrupted() {
		j.fail(exitInterrupted)
		return nil
	}
	if failOnProblems && outs.Stats().Errors > 0 {
		j.infof("error-severity problems were found (--fail-on-problems)")
		j.fail(exitProblems)
	}
	return nil
}

// reader reads the inputs of one "wstap read" into the same outputs.
type reader struct {
	j        *job
	outs     *outputs
	filter   *capture.Filter
	progress bool
}

// readInput decodes one opened input.
func (r *reader) readInput(in *input) error {
	j := r.j
	if in.export != nil {
		im := r.outs.tap.Import()
		err := export.LoadEvents(j.ctx, in.display, in.export, im.Event)
		im.Close()
		if err != nil {
			if j.interrupted() {
				j.infof("interrupted while loading %s; what was read of it is written", in.display)
				return nil
			}
			return err
		}
		return nil
	}
	var bar *progressBar
	warn := func(msg string) {
		bar.clear()
		j.warnf("%s: %s", in.display, msg)
	}
	// Decoding is most of the work: it runs beside reading and
	// reassembly, one decoder goroutine per core (the reading and writing
	// goroutines are lighter and share the cores with them). The store's
	// log and list of connections are those of decoding inline (see
	// capture.Options.Workers): the outputs and the terminal UI's list
	// come out the same way every time.
	workers := runtime.GOMAXPROCS(0)
	t := capture.NewTracker(capture.Options{
		Tap:     r.outs.tap,
		Source:  "pcap",
		Workers: workers,
		Warn:    warn,
		Filter:  r.filter,
	})
	// A file waits for the outputs when they fall behind (see
	// session.Store.Pace).
	opts := capture.RunOptions{Pace: r.outs.store.Pace}
	if r.progress {
		bar = &progressBar{w: j.stderr, name: in.display, size: in.size, read: in.counted, tracker: t}
		opts.Progress = bar.update
	}
	err := capture.Run(j.ctx, in.capture, t, opts)
	t.Close()
	bar.clear()
	switch {
	case j.interrupted():
		j.infof("interrupted in %s after %d records; what was decoded is written", in.display, in.capture.Records())
	case err == nil:
	case errors.Is(err, capture.ErrTruncated), errors.Is(err, capture.ErrDamaged):
		// Everything before the damage is decoded and written: a cut
		// capture is a common, usable thing, not a failure.
		j.warnf("%v", err)
	default:
		return err
	}
	return nil
}

// wantProgress says whether to show progress: only when stderr is a
// terminal, and not when that terminal also shows the dump or another
// output, which the progress line would garble.
func wantProgress(stdout, stderr any, out *outputFlags) bool {
	if !isTerminal(stderr) {
		return false
	}
	toStdout := out.dump || out.json == "-" || out.har == "-" || out.ndjson == "-"
	return !(toStdout && isTerminal(stdout))
}
