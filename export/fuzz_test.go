package export_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// FuzzLoad: whatever the input, LoadEvents never panics, returns nil or a
// *LoadError, and its events keep their contract (per connection opened
// first, closed last, indexes in order); byte by byte it gives the same
// events and error; Load agrees with it; and what Load accepts can be
// written as JSON and HAR and read back with the same messages.
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
	f.Add([]byte(`{"log": {"creator": {"name": "wstap"}, "entries": [{"request": {"url": "http://h/"}, "_wstap": {"id": "2"}}, {"_webSocketMessages": [{"type": "error", "time": 1, "data": "x"}], "connection": "2", "request": {"url": "ws://h/"}, "_wstap": {"id": "2", "problems": [{"severity": "error", "kind": "k"}]}}]}}`))
	f.Add([]byte(`{"connections": [{"messages": [{"from": "server", "opcode": 2, "frames": [1], "data_base64": "AAE="}], "frames": [{"from": "server", "opcode": 2, "length": 2}, {"from": "server", "opcode": 0, "fin": true, "length": 2, "message": 0}], "id": "x"}], "format": "wstap"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err := loadEvents(t, "fuzz", bytes.NewReader(data))
		if err != nil {
			var le *export.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is not a *LoadError: %v", err)
			}
		}
		bytewise, err2 := loadEvents(t, "fuzz", iotest.OneByteReader(bytes.NewReader(data)))
		var ne *export.NotExportError
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() && !errors.As(err, &ne) {
			// (Sniff shows as much of a file that is not an export as
			// has arrived, which depends on the reads.)
			t.Fatalf("error read whole: %v; byte by byte: %v", err, err2)
		}
		if !reflect.DeepEqual(whole.events, bytewise.events) {
			t.Fatalf("%d events read whole, %d byte by byte, not the same", len(whole.events), len(bytewise.events))
		}

		convs, lerr := export.Load("fuzz", bytes.NewReader(data))
		switch {
		case err != nil:
			if lerr == nil || lerr.Error() != err.Error() {
				t.Fatalf("LoadEvents failed with %v, Load with %v", err, lerr)
			}
			return
		case lerr != nil:
			// Only Load cuts the frames written without payload out of
			// their messages; LoadEvents leaves that to its consumer.
			if !strings.Contains(lerr.Error(), "the frame has no payload_base64") {
				t.Fatalf("LoadEvents succeeded, Load failed: %v", lerr)
			}
			return
		}
		if len(convs) != len(whole.conversations()) {
			t.Fatalf("Load gave %d connections, the events %d", len(convs), len(whole.conversations()))
		}
		for _, out := range [][]byte{writeFuzzJSON(t, convs), writeFuzzHAR(t, convs)} {
			back, err := export.Load("again", bytes.NewReader(out))
			if err != nil {
				t.Fatalf("an export of what was loaded does not load: %v\n%s", err, out)
			}
			if n, m := countMessages(convs), countMessages(back); n != m {
				t.Fatalf("%d messages loaded, %d after export and load", n, m)
			}
		}
	})
}

func countMessages(convs []*session.Conversation) int {
	n := 0
	for _, c := range convs {
		n += len(c.Messages)
	}
	return n
}

func writeFuzzJSON(t *testing.T, convs []*session.Conversation) []byte {
	var b bytes.Buffer
	w := export.NewJSONWriter(&b, export.Options{})
	for _, c := range convs {
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFuzzHAR(t *testing.T, convs []*session.Conversation) []byte {
	var b bytes.Buffer
	w := export.NewHARWriter(&b, export.Options{})
	for _, c := range convs {
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
