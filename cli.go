package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses. They are part of the command line contract (README):
// scripts and CI pipelines branch on them.
const (
	exitOK = 0
	// exitFailed: an input could not be read or an output not written.
	exitFailed = 1
	// exitUsage: the command line itself is wrong; nothing was read.
	exitUsage = 2
	// exitProblems: read --fail-on-problems found an error-severity
	// problem in the traffic.
	exitProblems = 3
	// exitInterrupted: read was stopped by SIGINT or SIGTERM before the
	// end of its input; the outputs hold what was decoded until then.
	// 128 + SIGINT, as shells report a process a Ctrl-C ended.
	exitInterrupted = 130
)

// app is what every command shares: the standard streams and the context
// that the command runs under (a test cancels it as a signal would).
type app struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// signals makes a command stop on SIGINT and SIGTERM; tests that run
	// commands in-process stop them through ctx instead.
	signals bool
}

// usageError is a mistake on the command line: it is printed as one line
// with a hint, and the exit status is 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// statusError ends a command with status after everything was reported
// on stderr by the command itself.
type statusError struct{ status int }

func (e statusError) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// run runs the wstap command line args and returns the exit status. It is
// main without os.Exit, so that tests run commands in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: context.Background(), stdin: stdin, stdout: stdout, stderr: stderr, signals: true}
	return a.execute(args)
}

// runContext is run stopped by ctx instead of by signals.
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	return a.execute(args)
}

// execute parses args with the command table and runs the command.
func (a *app) execute(args []string) int {
	root := a.rootCommand()
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(a.ctx)
	if err == nil {
		return exitOK
	}
	var st statusError
	if errors.As(err, &st) {
		return st.status
	}
	// Anything else comes from parsing the command line: cobra's own
	// errors (unknown command or flag, a bad flag value) and usageError.
	// One or two lines and a hint, never the whole help, which would
	// push the line that says what is wrong off the screen.
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(a.stderr, "%s: %s\n", cmd.CommandPath(), strings.TrimRight(err.Error(), "\n"))
	fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	return exitUsage
}

// rootCommand is the command table: every command, its flags and its help.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "wstap",
		Short: "WebSocket debugging proxy and traffic inspector",
		Long: `wstap is a WebSocket debugging proxy and traffic inspector. It reads
packet captures and HAR or JSON exports, captures live, or sits in the
middle of connections as a proxy; it decodes the HTTP Upgrade handshake
and every frame and message, and shows problems where they happen.`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		// No Args: cobra then checks the command name itself and
		// suggests the nearest ("did you mean read?"). No command at all
		// is the same as --help: the help is printed and the run succeeds.
	}
	root.SetVersionTemplate("wstap {{.Version}}\n")
	root.SetUsageFunc(usage)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.readCommand(),
		a.captureCommand(),
		a.proxyCommand(),
		a.demoCommand(),
		a.caCommand(),
		a.versionCommand(),
	)
	// Unknown commands get cobra's suggestions ("did you mean read?").
	root.SuggestionsMinimumDistance = 2
	return root
}

// job is one run of a command after its flags were parsed: the shared
// opening (the stop signals, the outputs, the "wstap NAME:" prefix of
// every message, the exit status) around what the command does itself.
type job struct {
	a    *app
	name string // "wstap read"
	// ctx is done when the command must stop (SIGINT, SIGTERM).
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	// mu serializes the messages on stderr and the status: a proxy's
	// connections report from goroutines of their own.
	mu     sync.Mutex
	status int
	// outs are the run's outputs once openOutputs created them.
	outs  *outputs
	flags *outputFlags
	// stop ends the command as a signal would (the user quit the UI).
	stop context.CancelFunc
	// ui is the terminal UI, when it opened; uiTitle says what it shows
	// and protect are the files its exports must not replace.
	ui      *uiRun
	uiTitle string
	protect []inputFile
}

// runJob runs body as the job of cmd and turns its result into the exit
// status: an error body returns is printed with the command's prefix and
// fails the run (a usageError exits 2 with a hint instead).
func (a *app) runJob(cmd *cobra.Command, body func(j *job) error) error {
	ctx := a.ctx
	if a.signals {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		// The first signal stops the command gracefully (it writes what
		// it decoded); a second one ends the process at once, as the
		// default action of the signal does.
		context.AfterFunc(ctx, stop)
	}
	ctx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	j := &job{a: a, name: cmd.CommandPath(), ctx: ctx, stop: stopJob, stdout: a.stdout, stderr: a.stderr}
	err := runBody(j, body)
	var ue usageError
	if errors.As(err, &ue) {
		if j.ui != nil {
			stopJob()
			j.finishUI()
		}
		j.discardOutputs()
		return err
	}
	if err != nil {
		j.errorf("%v", err)
	}
	// With the UI, the run goes on until the user quits it: what was
	// read stays there to be looked at.
	j.finishUI()
	j.closeOutputs()
	if j.status != exitOK {
		return statusError{j.status}
	}
	return nil
}

// runBody runs the command's body. Should it panic, the terminal UI (if
// it covers the terminal) is closed first, so that the crash is printed
// on a terminal the user can read, and the panic goes on.
func runBody(j *job, body func(j *job) error) error {
	defer func() {
		if r := recover(); r != nil {
			j.mu.Lock()
			u := j.ui
			j.mu.Unlock()
			if u != nil {
				u.app.Close()
			}
			panic(r)
		}
	}()
	return body(j)
}

// openOutputs creates the outputs of the run. A command calls it once its
// inputs are open, so that an input that fails to open creates no file;
// runJob closes them.
func (j *job) openOutputs(flags *outputFlags) (*outputs, error) {
	outs, err := flags.open(j.stdout)
	if err != nil {
		return nil, err
	}
	j.outs, j.flags = outs, flags
	if flags.tui {
		if err := j.startUI(outs, flags.options()); err != nil {
			// No terminal to draw on after all: the dump, as before
			// the UI existed.
			j.warnf("cannot open the terminal UI (%v); printing the conversation instead", err)
			flags.tui = false
			outs.followDump(j.stdout, flags)
		}
	}
	return outs, nil
}

// closeOutputs finishes the outputs: written and renamed into place when
// the run succeeded (or was stopped by a signal: what was decoded until
// then is kept), thrown away when it failed, leaving existing files as
// they were. Then the one-line summary.
func (j *job) closeOutputs() {
	if j.outs == nil {
		return
	}
	ok := j.status != exitFailed
	if err := j.outs.Close(ok); err != nil {
		j.errorf("%v", err)
	}
	if !ok {
		for _, p := range j.flags.paths() {
			if p.flag != "--ndjson" && p.path != "-" {
				j.infof("%s %s was not written because the run failed; a file already there is left as it was", p.flag, p.path)
			}
		}
	}
	// The summary is said even after the user quit the UI, which keeps
	// the other notes quiet.
	j.say("%s: %s\n", j.name, summary(j.outs.Stats()))
	j.outs = nil
}

// discardOutputs throws the outputs away (a usage error found late).
func (j *job) discardOutputs() {
	if j.outs != nil {
		j.outs.Close(false)
		j.outs = nil
	}
}

// errorf reports a failure and makes the run exit with status 1.
func (j *job) errorf(format string, args ...any) {
	j.say("%s: %s\n", j.name, fmt.Sprintf(format, args...))
	j.fail(exitFailed)
}

// warnf reports something the user should know that does not fail the run.
func (j *job) warnf(format string, args ...any) {
	j.say("%s: warning: %s\n", j.name, fmt.Sprintf(format, args...))
}

// infof says what the command is doing, on stderr so that stdout stays
// the data. Once the user quit the UI, what the command says about
// stopping is not news, and is not said.
func (j *job) infof(format string, args ...any) {
	if u := j.uiNow(); u != nil && u.userQuit() {
		return
	}
	j.say("%s: %s\n", j.name, fmt.Sprintf(format, args...))
}

// say writes a line on stderr; while the UI covers the terminal, the line
// is shown in its status line and printed when it closes.
func (j *job) say(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if u := j.uiNow(); u != nil && u.hold(line) {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	fmt.Fprint(j.stderr, line)
}

// uiNow returns the UI, or nil.
func (j *job) uiNow() *uiRun {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.ui
}

// fail raises the exit status to status: a failure (1) is not hidden by a
// later, milder outcome.
func (j *job) fail(status int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.status == exitOK || status == exitFailed {
		j.status = status
	}
}

// interrupted reports whether the job was asked to stop.
func (j *job) interrupted() bool { return j.ctx.Err() != nil }

// noArgs is a cobra.PositionalArgs for commands that take no arguments,
// with a message that says what to do instead.
func noArgs(hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q; %s", args[0], hint)
		}
		return nil
	}
}

// outputFlagGroup is the annotation that puts a flag under "Output flags"
// in the help, apart from the flags of the command itself.
const outputFlagGroup = "wstap-output"

// usage writes the usage part of a command's help: the command line, the
// examples, the commands (for wstap itself), the command's own flags, and
// the output flags it shares with the other commands in a group of their
// own, so that what is particular to a command is not lost among them.
func usage(c *cobra.Command) error {
	w := c.OutOrStdout()
	fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s COMMAND [flags] [arguments]\n", c.CommandPath())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nCommands:\n")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "  %-11s %s\n", sub.Name(), sub.Short)
			}
		}
	}
	own, out := pflag.NewFlagSet("own", pflag.ContinueOnError), pflag.NewFlagSet("output", pflag.ContinueOnError)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[outputFlagGroup]; ok {
			out.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	if own.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", own.FlagUsages())
	}
	if out.HasAvailableFlags() {
		fmt.Fprintf(w, "\nOutput flags:\n%s", out.FlagUsages())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun \"%s help COMMAND\" for a command's flags.\n", c.CommandPath())
	}
	return nil
}
