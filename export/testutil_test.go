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
	"github.com/wstap/wstap/session"
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

// newTestStore makes a store in the test's temporary directory.
func newTestStore(t testing.TB) *session.Store {
	t.Helper()
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// writeJSON and writeHAR export conns to memory.
func writeJSON[C session.ConnSource](t testing.TB, opts export.Options, conns ...C) []byte {
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

func writeHAR[C session.ConnSource](t testing.TB, opts export.Options, conns ...C) []byte {
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

func load(t *testing.T, name string, data []byte) []*session.Conversation {
	t.Helper()
	conns, err := export.Load(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// fixtureSession decodes every fixture into one store, ids 1, 2, 3, as the
// commands do, with observe (which may be nil) seeing every decoder event;
// it returns the store.
func fixtureSession(t *testing.T, observe decode.Listener) *session.Store {
	t.Helper()
	st := newTestStore(t)
	tap := session.NewTap(st, session.TapOptions{Observe: observe})
	for i, f := range fixtures(t) {
		decodeInto(tap, string(rune('1'+i)), f.s)
	}
	return st
}

// sessionConns decodes every fixture (see fixtureSession) and returns the
// connections whole.
func sessionConns(t *testing.T, observe decode.Listener) []*session.Conversation {
	t.Helper()
	conns, err := fixtureSession(t, observe).Ended()
	if err != nil {
		t.Fatal(err)
	}
	return conns
}

// sessionSources decodes every fixture (see fixtureSession) and returns
// the connections as the commands' writers read them: from the store.
func sessionSources(t *testing.T) []session.ConnSource {
	t.Helper()
	st := fixtureSession(t, nil)
	var out []session.ConnSource
	for i := range st.Len() {
		src, err := st.Source(session.ConnID(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, src)
	}
	return out
}

// streamed decodes the session with an NDJSON writer and a dumper
// following the store, as the commands run them, and returns what they
// wrote.
func streamed(t *testing.T, opts export.Options) (ndjson, dump []byte) {
	t.Helper()
	var nb, db bytes.Buffer
	st := newTestStore(t)
	fn := st.FollowEvents(export.NewNDJSONWriter(&nb, opts))
	fd := st.FollowEvents(export.NewDumper(&db, opts))
	tap := session.NewTap(st, session.TapOptions{})
	for i, f := range fixtures(t) {
		decodeInto(tap, string(rune('1'+i)), f.s)
	}
	for _, f := range []*session.Following{fn, fd} {
		if err := f.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	return nb.Bytes(), db.Bytes()
}

// sharingRedaction is what a user sharing the session would ask for.
var sharingRedaction = export.Redaction{Defaults: true, Headers: []string{"X-Api-Key"}, Query: []string{"room"}}
