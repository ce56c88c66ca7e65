package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/session"
)

// onlySummary reports whether stderr holds nothing but the summary line a
// successful run ends with.
func onlySummary(stderr string) bool {
	return regexp.MustCompile(`^wstap \w+: \d+ connections?, \d+ messages?, \d+ problems?( \(\d+ errors?\))?\n$`).MatchString(stderr)
}

// cmdRun runs wstap with args and returns its exit status and output.
func cmdRun(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// jsonExport is the part of the JSON export that DESIGN.md makes a
// contract.
type jsonExport struct {
	Connections []struct {
		ID      string `json:"id"`
		Client  string `json:"client"`
		Server  string `json:"server"`
		URL     string `json:"url"`
		Request *struct {
			Method  string `json:"method"`
			Target  string `json:"target"`
			Headers []struct{ Name, Value string }
		} `json:"request"`
		Response *struct {
			Status  int `json:"status"`
			Headers []struct{ Name, Value string }
		} `json:"response"`
		Subprotocol string `json:"subprotocol"`
		Extensions  string `json:"extensions"`
		Frames      []struct {
			From    string `json:"from"`
			Time    string `json:"time"`
			Fin     bool   `json:"fin"`
			Rsv     int    `json:"rsv"`
			Opcode  int    `json:"opcode"`
			Masked  bool   `json:"masked"`
			MaskKey string `json:"mask_key"`
			Length  int64  `json:"length"`
		} `json:"frames"`
		Messages []struct {
			From       string  `json:"from"`
			Time       string  `json:"time"`
			Opcode     int     `json:"opcode"`
			Compressed bool    `json:"compressed"`
			Frames     []int   `json:"frames"`
			Size       int64   `json:"size"`
			Text       *string `json:"text"`
			Data       *string `json:"data_base64"`
		} `json:"messages"`
		Close *struct {
			From   string `json:"from"`
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"close"`
		Problems []struct {
			Severity string `json:"severity"`
			Kind     string `json:"kind"`
			Message  string `json:"message"`
		} `json:"problems"`
	} `json:"connections"`
}

func loadExport(t *testing.T, path string) jsonExport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e jsonExport
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// TestReadJSON reads every sample in one run and checks the JSON export
// against the contract: unique IDs, addresses as net.JoinHostPort writes
// them, the handshake, and frames and messages that agree with each other.
func TestReadJSON(t *testing.T) {
	var samples []string
	all, _ := filepath.Glob("samples/*.pcap*")
	for _, s := range all {
		// The clean samples: violations.pcap breaks the protocol on
		// purpose (see TestFailOnProblems).
		if !strings.Contains(s, "violations") {
			samples = append(samples, s)
		}
	}
	if len(samples) < 6 {
		t.Fatalf("%d samples", len(samples))
	}
	out := filepath.Join(t.TempDir(), "all.json")
	code, stdout, stderr := cmdRun(t, nil, append([]string{"read", "--json", out}, samples...)...)
	if code != 0 || stdout != "" || !onlySummary(stderr) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	e := loadExport(t, out)
	ids := map[string]bool{}
	var ws, v6, deflate, chat int
	for _, c := range e.Connections {
		if ids[c.ID] {
			t.Errorf("ID %s is used twice", c.ID)
		}
		ids[c.ID] = true
		for _, a := range []string{c.Client, c.Server} {
			host, port, err := net.SplitHostPort(a)
			if err != nil || net.JoinHostPort(host, port) != a {
				t.Errorf("connection %s: address %q is not as net.JoinHostPort writes it", c.ID, a)
			}
			if strings.Contains(host, ":") {
				v6++
			}
		}
		if c.Response == nil || c.Response.Status != 101 {
			continue // the plain HTTP connections of the browser sample
		}
		ws++
		if c.Request == nil || c.Request.Method != "GET" || !strings.HasPrefix(c.URL, "ws://") || !strings.HasSuffix(c.URL, c.Request.Target) {
			t.Errorf("connection %s: url %q, request %+v", c.ID, c.URL, c.Request)
		}
		if c.Subprotocol == "chat" {
			chat++
		}
		if strings.Contains(c.Extensions, "permessage-deflate") {
			deflate++
		}
		if len(c.Problems) != 0 {
			t.Errorf("connection %s: problems %+v in a clean sample", c.ID, c.Problems)
		}
		for i, f := range c.Frames {
			if (f.From == "client") != f.Masked || (f.Masked && len(f.MaskKey) != 8) || !timeRE.MatchString(f.Time) || f.Rsv&^4 != 0 {
				t.Errorf("connection %s frame %d: %+v", c.ID, i, f)
			}
			if _, err := hex.DecodeString(f.MaskKey); err != nil {
				t.Errorf("connection %s frame %d: mask key %q", c.ID, i, f.MaskKey)
			}
		}
		for i, m := range c.Messages {
			if len(m.Frames) == 0 || (m.Text == nil) == (m.Data == nil) || !timeRE.MatchString(m.Time) {
				t.Fatalf("connection %s message %d: %+v", c.ID, i, m)
			}
			first := c.Frames[m.Frames[0]]
			if first.From != m.From || (m.Opcode < 8 && first.Opcode != m.Opcode) || m.Compressed != (first.Rsv == 4) {
				t.Errorf("connection %s message %d does not match its first frame %+v", c.ID, i, first)
			}
			var payload []byte
			if m.Text != nil {
				payload = []byte(*m.Text)
				if m.Opcode == 1 && !utf8.ValidString(*m.Text) {
					t.Errorf("connection %s message %d: text is not UTF-8", c.ID, i)
				}
			} else {
				var err error
				if payload, err = base64.StdEncoding.DecodeString(*m.Data); err != nil {
					t.Errorf("connection %s message %d: %v", c.ID, i, err)
				}
			}
			if int64(len(payload)) != m.Size && m.Opcode != 8 {
				t.Errorf("connection %s message %d: %d bytes, size %d", c.ID, i, len(payload), m.Size)
			}
		}
		if c.Close == nil || c.Close.Code == 0 {
			t.Errorf("connection %s: close %+v", c.ID, c.Close)
		}
	}
	if ws != 8 || v6 == 0 || deflate != 3 || chat != 1 {
		t.Errorf("%d WebSocket connections (%d IPv6 addresses, %d deflate, %d chat), want 8 (some, 3, 1)", ws, v6, deflate, chat)
	}
}

// TestReadDumpByDefault: without an output flag, read prints one line per
// message.
func TestReadDumpByDefault(t *testing.T) {
	code, stdout, stderr := cmdRun(t, nil, "read", "samples/gorilla-fragments.pcap.gz")
	if code != 0 || !onlySummary(stderr) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// A line for the connection's handshake, one per message, one for
	// its end.
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 21 || !strings.Contains(lines[0], "101 Switching Protocols") || !strings.Contains(lines[20], "closed") {
		t.Fatalf("%d lines, want 21 (a header, 19 messages, the close):\n%s", len(lines), stdout)
	}
	if !strings.Contains(stdout, `"custom reason"`) || !strings.Contains(stdout, "4001") {
		t.Errorf("the close is not in the dump:\n%s", stdout)
	}
}

// TestReadQuietNoOutput: --quiet with no output decodes and says only
// the summary; nothing follows the store, which lets each connection go
// as it ends (it used to hang on a capture of several connections, with
// a connection let go before it had its place in the list).
func TestReadQuietNoOutput(t *testing.T) {
	for _, sample := range []string{"samples/chromium-deflate.pcapng", "samples/ipv6-multi-sll2.pcap"} {
		code, stdout, stderr := cmdRun(t, nil, "read", "-q", sample)
		if code != 0 || stdout != "" || !onlySummary(stderr) || strings.Contains(stderr, " 0 connections") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", sample, code, stdout, stderr)
		}
	}
}

// TestReadStdin: "-" reads standard input, gzip-compressed or not.
func TestReadStdin(t *testing.T) {
	b, err := os.ReadFile("samples/gorilla-fragments.pcap.gz")
	if err != nil {
		t.Fatal(err)
	}
	_, fromFile, _ := cmdRun(t, nil, "read", "--dump", "samples/gorilla-fragments.pcap.gz")
	code, fromStdin, stderr := cmdRun(t, b, "read", "--dump", "-")
	if code != 0 || fromStdin != fromFile || fromStdin == "" {
		t.Fatalf("exit %d, stderr %q; stdin gave\n%s\nthe file gave\n%s", code, stderr, fromStdin, fromFile)
	}
}

// withoutCloseLine drops the dump's "closed" lines.
func withoutCloseLine(dump string) string {
	var keep []string
	for _, l := range strings.SplitAfter(dump, "\n") {
		if !strings.Contains(l, " closed ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// TestReadExports: a JSON or HAR export reads back (detected by content)
// with the same messages.
func TestReadExports(t *testing.T) {
	dir := t.TempDir()
	js, har := filepath.Join(dir, "a.json"), filepath.Join(dir, "a.har")
	if code, _, stderr := cmdRun(t, nil, "read", "--json", js, "--har", har, "samples/gorilla-basic.pcapng"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, want, _ := cmdRun(t, nil, "read", "--dump", "samples/gorilla-basic.pcapng")
	for _, f := range []string{js, har} {
		renamed := filepath.Join(dir, "export-"+strconv.Itoa(len(f))) // no telling extension
		if err := os.Rename(f, renamed); err != nil {
			t.Fatal(err)
		}
		code, got, stderr := cmdRun(t, nil, "read", "--dump", renamed)
		if f == har {
			// A HAR records no byte counts and no end of the connection:
			// every line but the close line is the same.
			got, want = withoutCloseLine(got), withoutCloseLine(want)
		}
		if code != 0 || got != want || !strings.Contains(got, "websocket 127.0.0.1") {
			t.Errorf("%s: exit %d, stderr %q, dump\n%s\nwant\n%s", f, code, stderr, got, want)
		}
	}
	// A capture and an export in one run keep their IDs apart.
	out := filepath.Join(dir, "both.json")
	if code, _, stderr := cmdRun(t, nil, "read", "--json", out, "samples/gorilla-deflate.pcap", filepath.Join(dir, "export-"+strconv.Itoa(len(js)))); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	e := loadExport(t, out)
	if len(e.Connections) != 2 || e.Connections[0].ID == e.Connections[1].ID {
		t.Errorf("connections %q and %q", e.Connections[0].ID, e.Connections[1].ID)
	}
}

// TestReadCutFile: a capture cut in the middle of a record is decoded up
// to the cut, with a warning, and the command succeeds.
func TestReadCutFile(t *testing.T) {
	b, err := os.ReadFile("samples/gorilla-basic.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcapng")
	if err := os.WriteFile(cut, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cmdRun(t, nil, "read", cut)
	if code != 0 || !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "ends in the middle of a record") || !strings.Contains(stderr, "byte offset") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, `"hello"`) {
		t.Errorf("what came before the cut is not shown:\n%s", stdout)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("\x00\x01 this is neither a capture nor JSON"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"read"}, 2, "no file given"},
		{[]string{"read", "--filter", "port x", "samples/gorilla-deflate.pcap"}, 2, `"x" is not a number`},
		{[]string{"read", filepath.Join(dir, "missing.pcap")}, 1, "missing.pcap"},
		{[]string{"read", junk}, 1, "junk.bin"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
	} {
		code, _, stderr := cmdRun(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	// Every file is recognised before any is decoded: a wrong one fails
	// the run before anything is shown or written.
	code, stdout, _ := cmdRun(t, nil, "read", "samples/gorilla-deflate.pcap", junk)
	if code != 1 || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

// TestReadFilter: --filter keeps only the packets it selects.
func TestReadFilter(t *testing.T) {
	all := filepath.Join(t.TempDir(), "all.json")
	if code, _, stderr := cmdRun(t, nil, "read", "--json", all, "samples/ipv6-multi-sll2.pcap"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	client := loadExport(t, all).Connections[0].Client
	_, port, _ := net.SplitHostPort(client)
	out := filepath.Join(t.TempDir(), "f.json")
	code, _, stderr := cmdRun(t, nil, "read", "--json", out, "--filter", "port 9105 and not port "+port, "samples/ipv6-multi-sll2.pcap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	e := loadExport(t, out)
	if len(e.Connections) != 2 {
		t.Fatalf("%d connections, want 2", len(e.Connections))
	}
	for _, c := range e.Connections {
		if c.Client == client {
			t.Errorf("connection %s passed the filter", c.Client)
		}
	}
}

// TestProgressBar: the progress line says bytes, percent and messages;
// nothing is shown when stderr is not a terminal.
func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &progressBar{w: &buf, name: "big.pcap", size: 2_000_000, read: &countingReader{n: 500_000}, tracker: capture.NewTracker(capture.Options{Tap: session.NewTap(st, session.TapOptions{})})}
	p.update()
	if got := buf.String(); !strings.Contains(got, "reading big.pcap: 0.5 MB of 2.0 MB (25%), 0 messages") {
		t.Errorf("progress %q", got)
	}
	p.clear()
	if !strings.HasSuffix(buf.String(), "\r\033[K") {
		t.Error("the progress line is not cleared")
	}
	if wantProgress(&buf, &buf, &outputFlags{}) {
		t.Error("progress shown on a buffer")
	}
}
