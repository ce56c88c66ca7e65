package export_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// sampleFiles lists the captures in ../samples.
func sampleFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz"} {
		m, err := filepath.Glob(filepath.Join("..", "samples", pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no captures in ../samples")
	}
	return files
}

// readSample reads a capture the way "wstap read" does and returns the
// connections, whole, in the order they ended.
func readSample(t *testing.T, path string) []*session.Conversation {
	t.Helper()
	conns, err := readSampleStore(t, path).Ended()
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// readSampleSources reads a capture the way "wstap read" does and returns
// the connections as its writers read them, from the store, in the order
// they ended.
func readSampleSources(t *testing.T, path string) []session.ConnSource {
	t.Helper()
	st := readSampleStore(t, path)
	var out []session.ConnSource
	for i := range st.Items() {
		it, err := st.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		if it.Kind != decode.EventClosed {
			continue
		}
		src, err := st.Source(it.Conn)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, src)
	}
	return out
}

// readSampleStore decodes a capture into a store of its own.
func readSampleStore(t *testing.T, path string) *session.Store {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, _, err := capture.Open(path, f)
	if err != nil {
		t.Fatal(err)
	}
	st := newTestStore(t)
	tr := capture.NewTracker(capture.Options{Source: "pcap", Tap: session.NewTap(st, session.TapOptions{})})
	if err := capture.Run(context.Background(), rd, tr, capture.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	return st
}

func sampleName(path string) string {
	base := filepath.Base(path)
	for _, ext := range []string{".gz", ".pcapng", ".pcap"} {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// TestSamplesGolden: every sample capture exported as JSON and as HAR,
// compared with its golden files; the HAR passes the schema.
func TestSamplesGolden(t *testing.T) {
	sch := harSchema(t)
	for _, path := range sampleFiles(t) {
		name := sampleName(path)
		t.Run(name, func(t *testing.T) {
			conns := readSampleSources(t, path)
			if len(conns) == 0 {
				t.Fatalf("%s: no connections", path)
			}
			checkGolden(t, filepath.Join("samples", name+".json"), writeJSON(t, export.Options{}, conns...))
			har := writeHAR(t, export.Options{}, conns...)
			validateHAR(t, sch, name+".har", har)
			checkGolden(t, filepath.Join("samples", name+".har"), har)
		})
	}
}

// TestSamplesRoundTrip: capture -> HAR -> Load -> JSON keeps every
// message of every sample byte for byte, as the direct JSON has it; and
// capture -> JSON -> Load -> JSON is identical but for the source.
func TestSamplesRoundTrip(t *testing.T) {
	for _, path := range sampleFiles(t) {
		t.Run(sampleName(path), func(t *testing.T) {
			conns := readSample(t, path)
			j := writeJSON(t, export.Options{}, conns...)
			direct := load(t, "direct.json", j)
			viaHAR := load(t, "via.har", writeJSON(t, export.Options{}, load(t, "s.har", writeHAR(t, export.Options{}, conns...))...))
			if len(direct) != len(conns) || len(viaHAR) != len(conns) {
				t.Fatalf("%d connections; %d after JSON, %d after HAR", len(conns), len(direct), len(viaHAR))
			}
			total := 0
			for i, c := range conns {
				want := messagesOf(c)
				total += len(want)
				sameMessages(t, "JSON of connection "+c.ID, messagesOf(direct[i]), want)
				if viaHAR[i].ID != c.ID {
					t.Fatalf("connection %d: id %s after HAR, want %s", i, viaHAR[i].ID, c.ID)
				}
				sameMessages(t, "HAR of connection "+c.ID, messagesOf(viaHAR[i]), want)
			}
			if total == 0 {
				t.Fatalf("no messages decoded from %s", path)
			}
			src := []byte(`"source": "` + conns[0].Source + `"`)
			if j2 := writeJSON(t, export.Options{}, direct...); string(j2) != strings.ReplaceAll(string(j), string(src), `"source": "json"`) {
				diffLines(t, "JSON -> Load -> JSON", j2, j)
			}
		})
	}
}
