package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFlagsAfterFiles: flags may come before or after the file names, in
// GNU style, and short forms work.
func TestFlagsAfterFiles(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"read", "samples/gorilla-basic.pcapng", "--json", filepath.Join(dir, "after.json")},
		{"read", "--json", filepath.Join(dir, "before.json"), "samples/gorilla-basic.pcapng"},
		{"read", "--json=" + filepath.Join(dir, "equals.json"), "samples/gorilla-basic.pcapng", "-f", "tcp port 9101 or port 9102"},
	} {
		r := runBinary(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%q: exit %d: %s", args, r.code, r.stderr)
		}
	}
	want := loadExport(t, filepath.Join(dir, "before.json"))
	if len(want.Connections) != 1 || len(want.Connections[0].Messages) == 0 {
		t.Fatalf("before.json: %+v", want.Connections)
	}
	for _, f := range []string{"after.json", "equals.json"} {
		got := loadExport(t, filepath.Join(dir, f))
		if len(got.Connections) != 1 || len(got.Connections[0].Messages) != len(want.Connections[0].Messages) {
			t.Errorf("%s: %d connections", f, len(got.Connections))
		}
	}
}

// TestHelp: help goes to stdout with exit 0, for every spelling.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help", "read"}, {"read", "--help"}, {"read", "-h"}} {
		r := runBinary(t, nil, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"Usage:", "wstap read [flags] FILE...", "--json FILE", "--filter EXPR", "--fail-on-problems", "Examples:"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%q: the help lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
	r := runBinary(t, nil)
	for _, want := range []string{"read", "capture", "proxy", "demo", "version", "completion"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("wstap alone: exit %d, the command list lacks %q:\n%s", r.code, want, r.stdout)
		}
	}
	r = runBinary(t, nil, "help", "capture")
	if !strings.Contains(r.stdout, "-i, --interface IFACE") || !strings.Contains(r.stdout, "-w, --write FILE.pcapng") {
		t.Errorf("capture's help lacks -i or -w:\n%s", r.stdout)
	}
}

// TestVersion: --version and "version" say the same version, the one the
// build recorded, and the HAR says it too.
func TestVersion(t *testing.T) {
	short := runBinary(t, nil, "--version")
	long := runBinary(t, nil, "version")
	if short.code != 0 || long.code != 0 {
		t.Fatalf("exit %d and %d", short.code, long.code)
	}
	v := strings.TrimPrefix(strings.TrimSpace(short.stdout), "wstap ")
	if v == "" || v == strings.TrimSpace(short.stdout) || strings.ContainsAny(v, " \n") {
		t.Fatalf("--version printed %q", short.stdout)
	}
	if !strings.HasPrefix(long.stdout, "wstap "+v+"\n") || !strings.Contains(long.stdout, "go:       go") {
		t.Errorf("version printed %q, want it to start with %q", long.stdout, "wstap "+v)
	}
	// Built from this checkout: the version comes from its commit.
	if rev, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if !strings.Contains(long.stdout, "commit:   "+strings.TrimSpace(string(rev))) || !strings.Contains(v, string(rev[:12])) {
			t.Errorf("version %q does not name the commit %s:\n%s", v, rev[:12], long.stdout)
		}
	}
	har := filepath.Join(t.TempDir(), "v.har")
	if r := runBinary(t, nil, "read", "--har", har, "samples/gorilla-basic.pcapng"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Log struct {
			Creator struct{ Name, Version string }
		}
	}
	b, _ := os.ReadFile(har)
	if err := json.Unmarshal(b, &doc); err != nil || doc.Log.Creator.Version != v {
		t.Errorf("HAR creator %+v (%v), want version %q", doc.Log.Creator, err, v)
	}
}

// TestCompletion: the completion scripts are generated, and bash accepts
// its own.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := runBinary(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "wstap") || len(r.stdout) < 500 {
			t.Fatalf("completion %s: exit %d, %d bytes: %s", shell, r.code, len(r.stdout), r.stderr)
		}
		if path, err := exec.LookPath(shell); err == nil {
			check := exec.Command(path, "-n")
			check.Stdin = strings.NewReader(r.stdout)
			if out, err := check.CombinedOutput(); err != nil {
				t.Errorf("%s -n rejects the completion script: %v\n%s", shell, err, out)
			}
		} else if shell == "bash" {
			t.Fatalf("bash is needed to check the completion script: %v", err)
		}
	}
	// The completion of "read" offers files, of "-i" interfaces.
	r := runBinary(t, nil, "__complete", "capture", "-i", "")
	if !strings.Contains(r.stdout, "lo\n") {
		t.Errorf("completing -i: %q", r.stdout)
	}
}

// TestUsageErrors: a mistake on the command line is one or two lines and
// a hint on stderr, exit 2, never the whole help.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"read"}, "no file given"},
		{[]string{"read", "--jsn", "x.json", "samples/gorilla-basic.pcapng"}, "unknown flag: --jsn"},
		{[]string{"read", "--json"}, "flag needs an argument: --json"},
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"raed", "x.pcap"}, "Did you mean this?"},
		{[]string{"read", "--filter", "port x", "samples/gorilla-basic.pcapng"}, `"x" is not a number`},
		{[]string{"read", "--color", "purple", "samples/gorilla-basic.pcapng"}, `--color "purple"`},
		{[]string{"read", "-", "-"}, "standard input"},
		{[]string{"read", "--json", filepath.Join(dir, "a"), "--har", filepath.Join(dir, "a"), "samples/gorilla-basic.pcapng"}, "both write to"},
		{[]string{"read", "--dump", "--ndjson", "-", "samples/gorilla-basic.pcapng"}, "all write to stdout"},
		{[]string{"capture"}, "give the interface with -i"},
		{[]string{"capture", "-i", "lo", "--filter", "port"}, "needs a value"},
		{[]string{"proxy", "--listen-tls"}, "--listen-tls is for the reverse proxy"},
		{[]string{"proxy", "--upstream", "ftp://x:1"}, "unknown scheme"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		r := runBinary(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
			continue
		}
		if n := lines(r.stderr); n > 5 || !strings.Contains(r.stderr, "--help' for usage") || strings.Contains(r.stderr, "Flags:") {
			t.Errorf("%q: %d lines on stderr, want a short message and a hint:\n%s", tc.args, n, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%q: stdout %q", tc.args, r.stdout)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a usage error left files: %v", entries)
	}
}

// TestFailOnProblems: --fail-on-problems exits 3 when the traffic has an
// error-severity problem, and 0 when it has none.
func TestFailOnProblems(t *testing.T) {
	r := runBinary(t, nil, "read", "--fail-on-problems", "--dump", "samples/violations.pcap")
	if r.code != 3 || !strings.Contains(r.stderr, "--fail-on-problems") || !strings.Contains(r.stdout, "error ") {
		t.Errorf("violations: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runBinary(t, nil, "read", "--fail-on-problems", "--dump", "samples/gorilla-basic.pcapng")
	if r.code != 0 {
		t.Errorf("a clean capture: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runBinary(t, nil, "read", "--dump", "samples/violations.pcap")
	if r.code != 0 {
		t.Errorf("without the flag problems do not fail the run: exit %d", r.code)
	}
}

// TestSummary: one line on stderr at the end says what was decoded,
// without plural slips.
func TestSummary(t *testing.T) {
	r := runBinary(t, nil, "read", "--json", filepath.Join(t.TempDir(), "s.json"), "samples/gorilla-basic.pcapng")
	if r.code != 0 || !strings.HasSuffix(r.stderr, "wstap read: 1 connection, 18 messages, 0 problems\n") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// fileBytes reads path, failing the test if it cannot.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyFile copies a sample into dir.
func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, fileBytes(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestNothingDestroyed: a capture or an input named as an output is
// refused before anything is read, and every file stays byte-identical.
func TestNothingDestroyed(t *testing.T) {
	dir := t.TempDir()
	capA := copyFile(t, "samples/gorilla-basic.pcapng", dir)
	capB := copyFile(t, "samples/gorilla-deflate.pcap", dir)
	gz := copyFile(t, "samples/gorilla-fragments.pcap.gz", dir)
	export := filepath.Join(dir, "e.json")
	if r := runBinary(t, nil, "read", "--json", export, capB); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	before := map[string][]byte{}
	for _, f := range []string{capA, capB, gz, export} {
		before[f] = fileBytes(t, f)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Someone who took --json for a switch.
		{[]string{"read", "--json", capA, capB}, "is a pcapng capture; wstap never overwrites a capture"},
		{[]string{"read", "--har", capB, capA}, "is a pcap capture"},
		{[]string{"read", "--ndjson", gz, capA}, "is a gzip file"},
		// The input as its own output.
		{[]string{"read", "--json", capB, capB}, "that is the input"},
		{[]string{"read", export, "--json", export}, "that is the input " + export},
		{[]string{"read", "-", "--json", export}, "that is the input -"},
		{[]string{"read", capA, "--json", dir}, "is a directory"},
	} {
		var stdin *os.File
		if tc.args[1] == "-" {
			f, err := os.Open(export)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stdin = f
		}
		var r binRun
		if stdin != nil {
			r = runBinary(t, stdin, tc.args...)
		} else {
			r = runBinary(t, nil, tc.args...)
		}
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
	for f, b := range before {
		if !bytes.Equal(fileBytes(t, f), b) {
			t.Errorf("%s changed", f)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(before) {
		t.Errorf("files left behind: %v", entries)
	}
}

// TestFailedRunKeepsOutputs: a run that fails leaves an existing output
// byte-identical and no temporary file; one that succeeds replaces it.
func TestFailedRunKeepsOutputs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	har := filepath.Join(dir, "out.har")
	old := []byte(`{"format": "an earlier export"}`)
	for _, f := range []string{out, har} {
		os.WriteFile(f, old, 0o644)
	}
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("\x00\x01 this is neither a capture nor JSON"), 0o644)
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte(`{"connections": [{"id": 1}]`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Refused before any output is created.
		{[]string{"read", "samples/gorilla-basic.pcapng", junk, "--json", out, "--har", har}, "junk.bin: not a pcap"},
		{[]string{"read", "samples/gorilla-basic.pcapng", filepath.Join(dir, "missing.pcap"), "--json", out, "--har", har}, "no such file"},
		// Found broken while decoding, after the outputs were created.
		{[]string{"read", "samples/gorilla-basic.pcapng", badJSON, "--json", out, "--har", har}, "--json " + out + " was not written"},
	} {
		args := tc.args
		r := runBinary(t, nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", args, r.code, r.stderr, tc.want)
		}
		for _, f := range []string{out, har} {
			if !bytes.Equal(fileBytes(t, f), old) {
				t.Fatalf("%q: %s was replaced", args, f)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("files left behind: %v", entries)
	}
	// A wrong input is refused before anything is decoded.
	r := runBinary(t, nil, "read", junk, "samples/gorilla-deflate.pcap")
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "junk.bin") || !strings.Contains(r.stderr, "not a pcap or pcapng capture") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, nil, "read", "samples/gorilla-basic.pcapng", "--json", out); r.code != 0 || bytes.Equal(fileBytes(t, out), old) {
		t.Errorf("a successful run did not replace the export: exit %d %s", r.code, r.stderr)
	}
}

// TestUnwritableOutputs: an output that cannot be written fails at once,
// before decoding, and creates nothing.
func TestUnwritableOutputs(t *testing.T) {
	for _, tc := range []struct {
		flag, path, want string
	}{
		{"--json", "/proc/wstap-test.json", "creating the JSON export"},
		{"--ndjson", "/proc/wstap-test.ndjson", "creating the NDJSON stream"},
		{"--json", "/proc/version", "read-only"},
		{"--har", filepath.Join(t.TempDir(), "no", "such", "dir.har"), "creating the HAR export"},
	} {
		r := runBinary(t, nil, "read", "samples/gorilla-basic.pcapng", tc.flag, tc.path)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want %q", tc.flag, tc.path, r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

// TestHostileInputRefusedAtOnce: input that is not a capture, a HAR or
// JSON is refused from its first bytes, not read whole: /dev/zero,
// /dev/urandom and a gzip bomb of zeros end at once.
func TestHostileInputRefusedAtOnce(t *testing.T) {
	// 1 GiB of zeros: a gzip member of 1 MiB of zeros, 1024 times over
	// (a gzip file may hold several members, and readers join them).
	var member, bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	for range 1024 {
		bomb.Write(member.Bytes())
	}
	bombPath := filepath.Join(t.TempDir(), "zeros.gz")
	os.WriteFile(bombPath, bomb.Bytes(), 0o644)
	for _, name := range []string{"/dev/zero", "/dev/urandom", bombPath} {
		r := runBinary(t, nil, "read", name)
		if r.code != 1 || !strings.Contains(r.stderr, "not a pcap or pcapng capture") || !strings.Contains(r.stderr, name) {
			t.Errorf("%s: exit %d, stderr %q", name, r.code, r.stderr)
		}
		if r.took > 5*time.Second {
			t.Errorf("%s: refused only after %v", name, r.took)
		}
	}
	r := runBinary(t, bytes.NewReader(bomb.Bytes()), "read", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "stdin") {
		t.Errorf("the bomb on stdin: exit %d, stderr %q", r.code, r.stderr)
	}
}

// startBinary starts wstap with a pipe as stdin that the test holds open.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, *os.File, *syncBuffer, *syncBuffer) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wstapBinary, args...)
	var stdout, stderr syncBuffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	t.Cleanup(func() {
		pw.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, pw, &stdout, &stderr
}

// stopWithin sends sig and waits at most limit for the process to end,
// returning its exit status.
func stopWithin(t *testing.T, cmd *exec.Cmd, sig os.Signal, limit time.Duration) int {
	t.Helper()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	sent := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(limit):
		t.Fatalf("still running %v after %v", limit, sig)
	}
	t.Logf("ended %v after %v", time.Since(sent).Round(time.Millisecond), sig)
	return cmd.ProcessState.ExitCode()
}

// TestSignalStopsEndlessPipe: "read -" fed by a pipe whose writer never
// closes stops within a second of SIGINT or SIGTERM and writes what it
// decoded, whether the pipe sent half a capture or nothing at all.
func TestSignalStopsEndlessPipe(t *testing.T) {
	sample := fileBytes(t, "samples/gorilla-basic.pcapng")
	for _, tc := range []struct {
		name string
		feed []byte
		sig  os.Signal
		want string
	}{
		{"capture", sample, os.Interrupt, "interrupted in stdin"},
		{"capture-sigterm", sample, syscall.SIGTERM, "interrupted in stdin"},
		{"nothing", nil, os.Interrupt, "interrupted while opening -"},
		{"half-a-har", []byte(`{"log": {"version": "1.2", "entries": [`), os.Interrupt, "interrupted while loading stdin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.json")
			cmd, pw, _, stderr := startBinary(t, "read", "-", "--json", out)
			if _, err := pw.Write(tc.feed); err != nil {
				t.Fatal(err)
			}
			// The capture is read as it comes: wait until it was.
			time.Sleep(300 * time.Millisecond)
			code := stopWithin(t, cmd, tc.sig, time.Second)
			if code != exitInterrupted || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitInterrupted, tc.want)
			}
			if tc.name == "nothing" {
				if _, err := os.Stat(out); err == nil {
					t.Error("an output was written although nothing was read")
				}
				return
			}
			e := loadExport(t, out)
			if tc.name == "half-a-har" {
				if len(e.Connections) != 0 {
					t.Errorf("%d connections from half a HAR", len(e.Connections))
				}
				return
			}
			// The whole capture was sent; the connection has no end on the
			// wire yet, so it ends at the stop, with all its messages.
			if len(e.Connections) != 1 || len(e.Connections[0].Messages) != 18 {
				t.Errorf("the JSON has %d connections: %+v", len(e.Connections), e.Connections)
			}
		})
	}
}

// onTerminal runs wstap with stdout and stderr on a pseudo-terminal (made
// by util-linux's script) and returns what the terminal showed.
func onTerminal(t *testing.T, env []string, args ...string) string {
	t.Helper()
	script := requirePeer(t, "script")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command(script, "-qec", wstapBinary+" "+strings.Join(quoted, " "), "/dev/null")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q on a terminal: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestTerminalDump: on a terminal the dump stays on beside file outputs
// (unless --quiet), colored by direction unless NO_COLOR is set.
func TestTerminalDump(t *testing.T) {
	dir := t.TempDir()
	out := onTerminal(t, []string{"NO_COLOR="}, "read", "--json", filepath.Join(dir, "a.json"), "samples/gorilla-basic.pcapng")
	if !strings.Contains(out, "client->server") || !strings.Contains(out, "\x1b[") {
		t.Errorf("no colored dump beside --json on a terminal:\n%q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.json")); err != nil {
		t.Error(err)
	}
	out = onTerminal(t, []string{"NO_COLOR=1"}, "read", "--json", filepath.Join(dir, "b.json"), "samples/gorilla-basic.pcapng")
	if !strings.Contains(out, "client->server") || strings.Contains(out, "\x1b[") {
		t.Errorf("NO_COLOR: %q", out)
	}
	out = onTerminal(t, nil, "read", "-q", "--json", filepath.Join(dir, "c.json"), "samples/gorilla-basic.pcapng")
	if strings.Contains(out, "client->server") || !strings.Contains(out, "1 connection, 18 messages") {
		t.Errorf("--quiet: %q", out)
	}
	// Not a terminal: the files only, no dump, no color.
	r := runBinary(t, nil, "read", "--json", filepath.Join(dir, "d.json"), "samples/gorilla-basic.pcapng")
	if r.stdout != "" {
		t.Errorf("a dump beside --json on a pipe: %q", r.stdout)
	}
	r = runBinary(t, nil, "read", "--color", "never", "samples/gorilla-basic.pcapng")
	if !strings.Contains(r.stdout, "client->server") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("the dump on a pipe: %q", r.stdout)
	}
}
