package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
)

const captureUsage = `Usage: wstap capture -i IFACE [--filter EXPR] [--write FILE.pcapng] [flags]

Captures live from a network interface (Linux; root or CAP_NET_RAW; no C
library needed) and decodes every WebSocket connection as it happens, on
any port. Stop it with Ctrl-C (SIGINT) or SIGTERM: the output files are
then written, with everything decoded until then.

Without an output flag the messages are printed as with --dump.

Flags:
`

// cmdCapture implements "wstap capture".
func cmdCapture(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runCapture(ctx, args, stdout, stderr)
}

// runCapture captures until ctx is done (the signal, or a test).
func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, out := commandFlags("capture", captureUsage, stderr)
	iface := fs.String("i", "", "capture on interface `IFACE` (lo, eth0, ...)")
	filterExpr := fs.String("filter", "", "capture only the packets `EXPR` selects: host, port, portrange, net, src/dst, not, and, or")
	write := fs.String("write", "", "also write the captured packets (those the filter keeps) to `FILE.pcapng`")
	if status, done := parseCommandFlags(fs, args); done {
		return status
	}
	if *iface == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "wstap capture: give the interface with -i, and no other arguments")
		fs.Usage()
		return 2
	}
	filter, err := capture.ParseFilter(*filterExpr)
	if err != nil {
		fmt.Fprintf(stderr, "wstap capture: %v\n", err)
		return 2
	}
	live, err := capture.OpenLive(*iface)
	if err != nil {
		fmt.Fprintf(stderr, "wstap capture: %v\n", err)
		return 1
	}
	defer live.Close()
	outs, err := out.openForCommand(stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wstap capture: %v\n", err)
		return 1
	}
	status := 0
	fail := func(err error) {
		fmt.Fprintf(stderr, "wstap capture: %v\n", err)
		status = 1
	}

	var opts capture.RunOptions
	var pw *capture.PcapngWriter
	var wf *os.File
	var bw *bufio.Writer
	if *write != "" {
		if wf, err = os.Create(*write); err != nil {
			fail(err)
			outs.Close()
			return status
		}
		bw = bufio.NewWriterSize(wf, 1<<20)
		if pw, err = capture.NewPcapngWriter(bw, *iface, live.LinkType()); err != nil {
			fail(err)
			wf.Close()
			outs.Close()
			return status
		}
		opts.Tee = pw.Write
	}

	done := startDone(outs.Done)
	var event decode.Listener
	if out.streams() {
		event = outs.Event
	}
	t := capture.NewTracker(capture.Options{
		Source: "live",
		Event:  event,
		Done:   done.done,
		Warn:   func(msg string) { fmt.Fprintf(stderr, "wstap capture: warning: %s\n", msg) },
		Filter: filter,
	})
	what := ""
	if filter.String() != "" {
		what = fmt.Sprintf(" (filter %q)", filter.String())
	}
	fmt.Fprintf(stderr, "wstap capture: capturing on %s%s; stop with Ctrl-C\n", *iface, what)
	if err := capture.Run(ctx, live, t, opts); err != nil {
		fail(err)
	}
	// Stopped: every connection still open ends now, so that nothing
	// decoded is lost from the outputs.
	t.Close()
	done.wait()
	if pw != nil {
		if err := pw.Flush(); err != nil {
			fail(fmt.Errorf("writing %s: %w", *write, err))
		} else if err := bw.Flush(); err != nil {
			fail(fmt.Errorf("writing %s: %w", *write, err))
		}
		if err := wf.Close(); err != nil {
			fail(fmt.Errorf("writing %s: %w", *write, err))
		}
	}
	if err := outs.Close(); err != nil {
		fail(err)
	}
	st := t.Stats()
	fmt.Fprintf(stderr, "wstap capture: %d packets, %d connections, %d messages\n", st.Records-st.Filtered, st.Connections, st.Messages)
	return status
}
