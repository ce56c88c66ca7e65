package export_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// checkGolden compares got with testdata/golden/name, or rewrites the file
// with -update. A mismatch reports the first line that differs.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./export -update)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(if the change is intended: go test ./export -update)", name, i+1, g, w)
		}
	}
}

// harSchema compiles the HAR 1.2 schema with format assertions on, so that
// serverIPAddress and the date-times are checked, not only the types.
func harSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "har-1.2.bundled.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "file:///har-1.2.bundled.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// validateHAR checks a HAR against the schema.
func validateHAR(t *testing.T, sch *jsonschema.Schema, name string, har []byte) {
	t.Helper()
	if err := harValid(sch, har); err != nil {
		t.Fatalf("%s does not validate against the HAR 1.2 schema: %v", name, err)
	}
}

func harValid(sch *jsonschema.Schema, har []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(har))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// writeJSON, writeHAR and writeNDJSON export conns to memory.
func writeJSON(t *testing.T, opts export.Options, conns ...*decode.Connection) []byte {
	t.Helper()
	var b bytes.Buffer
	w := export.NewJSONWriter(&b, opts)
	for _, c := range conns {
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeHAR(t *testing.T, opts export.Options, conns ...*decode.Connection) []byte {
	t.Helper()
	var b bytes.Buffer
	w := export.NewHARWriter(&b, opts)
	for _, c := range conns {
		if err := w.Write(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func load(t *testing.T, name string, data []byte) []*decode.Connection {
	t.Helper()
	conns, err := export.Load(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// session decodes every fixture into one session, ids 1, 2, 3, with l
// (which may be nil) listening to every decoder.
func session(t *testing.T, l decode.Listener) []*decode.Connection {
	t.Helper()
	var conns []*decode.Connection
	for i, f := range fixtures(t) {
		conns = append(conns, decodeStream(string(rune('1'+i)), f.s, l))
	}
	return conns
}

// streamed decodes the session with an NDJSON writer and a dumper
// listening, as the commands run them, and returns what they wrote.
func streamed(t *testing.T, opts export.Options) (ndjson, dump []byte) {
	t.Helper()
	var nb, db bytes.Buffer
	n := export.NewNDJSONWriter(&nb, opts)
	d := export.NewDumper(&db, opts)
	session(t, func(e decode.Event) {
		if err := n.Event(e); err != nil {
			t.Fatal(err)
		}
		if err := d.Event(e); err != nil {
			t.Fatal(err)
		}
	})
	// The dump is buffered; the commands flush it on a timer and at exit.
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	return nb.Bytes(), db.Bytes()
}

// sharingRedaction is what a user sharing the session would ask for.
var sharingRedaction = export.Redaction{Defaults: true, Headers: []string{"X-Api-Key"}, Query: []string{"room"}}
