package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wstap/wstap/capture"
)

// captureCommand is "wstap capture".
func (a *app) captureCommand() *cobra.Command {
	var (
		out        outputFlags
		iface      string
		filterExpr string
		write      string
	)
	cmd := &cobra.Command{
		Use:   "capture -i IFACE [flags] [FILTER...]",
		Short: "Capture live from a network interface and decode as it happens",
		Long: `Captures live from a network interface (Linux; root or CAP_NET_RAW; no C
library needed) and decodes every WebSocket connection as it happens, on
any port. The filter is tcpdump's syntax, given with --filter or, as with
tcpdump, as the words after the flags ("wstap capture -i lo tcp port 8080");
it runs in the kernel, so a busy interface does not flood wstap.

Stop it with Ctrl-C (SIGINT) or SIGTERM: the outputs are then written, with
everything decoded until then. -w writes the packets the filter keeps as
they arrive, in place, so that they survive even a killed process; it never
replaces an existing capture.

Without an output flag, on a terminal, the terminal UI opens and follows
the traffic (press ? in it for its keys); --dump prints the conversation
instead, one line per message.`,
		Example: `  sudo wstap capture -i lo tcp port 8080
  sudo wstap capture -i eth0 -w ws.pcapng --har ws.har port 80 or port 8080`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, words []string) error {
			if iface == "" {
				return usagef("give the interface with -i (for example -i lo or -i eth0)")
			}
			if len(words) > 0 {
				if filterExpr != "" {
					return usagef("give the filter either with --filter or as words after the flags, not both")
				}
				filterExpr = strings.Join(words, " ")
			}
			filter, err := capture.ParseFilter(filterExpr)
			if err != nil {
				return usageError{err}
			}
			return a.runJob(cmd, func(j *job) error {
				return j.capture(&out, iface, filter, write)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&iface, "interface", "i", "", "capture on interface `IFACE` (lo, eth0, ...)")
	fs.StringVarP(&filterExpr, "filter", "f", "", "capture only the packets `EXPR` selects, in tcpdump's syntax")
	fs.StringVarP(&write, "write", "w", "", "also write the packets the filter keeps to `FILE.pcapng`, as they arrive")
	out.register(fs)
	cmd.RegisterFlagCompletionFunc("interface", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		ifs, _ := net.Interfaces()
		names := make([]string, 0, len(ifs))
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// capture captures on iface until the job is stopped.
func (j *job) capture(out *outputFlags, iface string, filter *capture.Filter, write string) error {
	if write == "-" {
		// "-w -" pipes the packets on, as tcpdump's does: stdout is theirs.
		if out.dump || out.json == "-" || out.har == "-" || out.ndjson == "-" {
			return usagef("-w - writes the packets to stdout; send the other outputs to files")
		}
		out.quiet = true
	}
	if err := out.settle(j.stdout); err != nil {
		return err
	}
	if err := out.check(nil, writeFlag(write)...); err != nil {
		return err
	}
	live, err := capture.OpenLive(iface)
	if err != nil {
		return err
	}
	defer live.Close()
	// The filter runs in the kernel, so that a busy interface does not
	// flood wstap with packets it would drop (SetFilter also drains what
	// the socket queued before the filter was attached).
	if err := live.SetFilter(filter); err != nil {
		return fmt.Errorf("putting the filter in the kernel: %w", err)
	}
	out.live = true
	outs, err := j.openOutputs(out)
	if err != nil {
		return err
	}
	var opts capture.RunOptions
	var pcap *pcapngFile
	if write != "" {
		if pcap, err = createPcapng(write, iface, live.LinkType(), j.stdout); err != nil {
			return err
		}
		opts.Tee = pcap.w.Write
		// Flushed whenever the interface is quiet and every few thousand
		// packets, so that what was captured is on disk soon after.
		opts.Progress = pcap.flush
	}

	t := capture.NewTracker(capture.Options{
		Tap:    outs.tap,
		Source: "live",
		Warn:   func(msg string) { j.warnf("%s", msg) },
		// No Filter: the kernel has selected every packet that arrives,
		// and -w writes exactly those.
	})
	what := ""
	if filter.String() != "" {
		what = fmt.Sprintf(" (filter %q)", filter.String())
	}
	j.infof("capturing on %s%s; stop with Ctrl-C", iface, what)
	runErr := capture.Run(j.ctx, live, t, opts)
	// Stopped: every connection still open ends now, so that nothing
	// decoded is lost from the outputs.
	t.Close()
	if pcap != nil {
		if err := pcap.close(); err != nil {
			j.errorf("%v", err)
		}
	}
	st := t.Stats()
	j.infof("%s captured", plural(st.Records-st.Filtered, "packet"))
	return runErr
}

// pcapngFile is the capture -w writes: in place, buffered.
type pcapngFile struct {
	name string
	f    io.Closer
	bw   *bufio.Writer
	w    *capture.PcapngWriter
	// err is the first write error; the capture goes on without the file.
	err error
}

// pcapngBuffer is the write buffer of -w: big enough that a busy
// interface costs few writes.
const pcapngBuffer = 1 << 20

func createPcapng(name, iface string, link capture.LinkType, stdout io.Writer) (*pcapngFile, error) {
	f, err := createStreaming(name, stdout)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(f, pcapngBuffer)
	w, err := capture.NewPcapngWriter(bw, iface, link)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	return &pcapngFile{name: name, f: f, bw: bw, w: w}, nil
}

// flush writes out what is buffered.
func (p *pcapngFile) flush() {
	if p.err == nil {
		if p.err = p.w.Flush(); p.err == nil {
			p.err = p.bw.Flush()
		}
	}
}

func (p *pcapngFile) close() error {
	p.flush()
	err := p.err
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", p.name, err)
	}
	return nil
}
