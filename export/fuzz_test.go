package export_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wstap/wstap/export"
)

// FuzzLoad: whatever the input, Load returns connections or a *LoadError,
// never panics; and what it accepts can be written as JSON and HAR and
// read back with the same messages.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{
		"chromium_har-importer_webinspector.har", "mitmproxy_websocket.har",
		"golden/session.json", "golden/session.har",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"connections": [{"id": "1", "frames": [{"from": "client", "opcode": 1, "length": 2, "message": 0}], "messages": [{"from": "client", "opcode": 1, "frames": [0], "text": "hi"}]}]}`))
	f.Add([]byte(`{"log": {"entries": [{"request": {"url": "ws://h/"}, "_webSocketMessages": [{"type": "send", "time": 1e12, "opcode": 8, "data": "A+g="}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		conns, err := export.Load("fuzz", bytes.NewReader(data))
		if err != nil {
			var le *export.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is not a *LoadError: %v", err)
			}
			if conns != nil {
				t.Fatalf("connections returned with an error")
			}
			return
		}
		for _, out := range [][]byte{writeJSON(t, export.Options{}, conns...), writeHAR(t, export.Options{}, conns...)} {
			back, err := export.Load("again", bytes.NewReader(out))
			if err != nil {
				t.Fatalf("an export of what was loaded does not load: %v\n%s", err, out)
			}
			var n, m int
			for _, c := range conns {
				n += len(c.Messages)
			}
			for _, c := range back {
				m += len(c.Messages)
			}
			if n != m {
				t.Fatalf("%d messages loaded, %d after export and load", n, m)
			}
		}
	})
}
