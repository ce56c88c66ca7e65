package export_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/session"
)

// secrets are the credentials in the chat fixture: header values, a
// cookie set by the server, and query parameters.
var secrets = []string{"abc.def.ghi", "session=xyz", "k-123", "new-session", "s3cr3t", "room=1"}

// TestRedactionHidesSecrets: with --redact and the named header and query
// parameter, no secret is left in any export, while everything else is;
// without it, every one of them is there (so the check can fail).
func TestRedactionHidesSecrets(t *testing.T) {
	conns := sessionConns(t, nil)
	for _, tc := range []struct {
		name    string
		opts    export.Options
		present bool
	}{
		{"default", export.Options{}, true},
		{"redacted", export.Options{Redact: sharingRedaction}, false},
	} {
		nd, _ := streamed(t, tc.opts)
		outputs := map[string][]byte{
			"JSON":   writeJSON(t, tc.opts, conns...),
			"HAR":    writeHAR(t, tc.opts, conns...),
			"NDJSON": nd,
		}
		for format, out := range outputs {
			for _, s := range secrets {
				if bytes.Contains(out, []byte(s)) != tc.present {
					t.Errorf("%s %s: secret %q present = %v", tc.name, format, s, !tc.present)
				}
			}
			for _, keep := range []string{"lang=en", "Sec-WebSocket-Key", "wstap-test", "Upgrade"} {
				if !bytes.Contains(out, []byte(keep)) {
					t.Errorf("%s %s: %q was removed too", tc.name, format, keep)
				}
			}
			if n := bytes.Count(out, []byte(export.Redacted)); tc.present != (n == 0) {
				t.Errorf("%s %s: %d %s markers", tc.name, format, n, export.Redacted)
			}
		}
	}
	// Exporting redacted leaves the session itself alone.
	if v, _ := decode.Get(conns[0].Request.Headers, "Authorization"); v != "Bearer abc.def.ghi" {
		t.Fatalf("the model was changed by a redacted export: Authorization %q", v)
	}
}

// TestRedactionQuery: only the values of hidden parameters change; the
// order, the encoding, valueless parameters and the fragment stay.
func TestRedactionQuery(t *testing.T) {
	c := &session.Conversation{Connection: decode.Connection{
		ID: "1", URL: "ws://h/p?a=1&Access_Token=x%20y&flag&api%5Fkey=q&c=%ZZ&Signature=s&lang=en#frag",
		Request:     &decode.Request{Method: "GET", Target: "/p?a=1&Access_Token=x%20y&flag&api%5Fkey=q&c=%ZZ&Signature=s&lang=en", Proto: "HTTP/1.1"},
		Subprotocol: "base64url.bearer.authorization.k8s.io.dG9rZW4",
	}}
	c.Request.Headers = []decode.Header{{Name: "Sec-WebSocket-Protocol", Value: c.Subprotocol}}
	opts := export.Options{Redact: export.Redaction{Defaults: true, Headers: []string{"sec-websocket-protocol"}, Query: []string{"C"}}}
	out := string(writeJSON(t, opts, c))
	for _, want := range []string{
		`"url": "ws://h/p?a=1&Access_Token=REDACTED&flag&api%5Fkey=REDACTED&c=REDACTED&Signature=REDACTED&lang=en#frag"`,
		`"target": "/p?a=1&Access_Token=REDACTED&flag&api%5Fkey=REDACTED&c=REDACTED&Signature=REDACTED&lang=en"`,
		`"subprotocol": "REDACTED"`,
		`{"name": "Sec-WebSocket-Protocol", "value": "REDACTED"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if strings.Contains(out, "dG9rZW4") {
		t.Errorf("the token in the subprotocol is still there")
	}
	har := string(writeHAR(t, opts, c))
	if !strings.Contains(har, `"queryString": [{"name": "a", "value": "1"}, {"name": "Access_Token", "value": "REDACTED"}, {"name": "flag", "value": ""}, {"name": "api_key", "value": "REDACTED"}, {"name": "c", "value": "REDACTED"}, {"name": "Signature", "value": "REDACTED"}, {"name": "lang", "value": "en"}]`) {
		t.Errorf("HAR queryString not redacted as expected:\n%s", har)
	}
}

// TestRedactionNames checks which query parameter names count as
// token-like under --redact, and that nothing is hidden without it.
func TestRedactionNames(t *testing.T) {
	for name, hidden := range map[string]bool{
		"token": true, "access_token": true, "id_token": true, "X-Amz-Signature": true, "apikey": true,
		"api_key": true, "API-KEY": true, "key": true, "sig": true, "code": true, "password": true,
		"client_secret": true, "sessionid": true, "auth": true, "jwt": true,
		"room": false, "lang": false, "page": false, "keyboard": false, "v": false, "channel": false,
	} {
		c := &session.Conversation{Connection: decode.Connection{ID: "1", URL: "ws://h/?" + name + "=v1"}}
		out := writeJSON(t, export.Options{Redact: export.Redaction{Defaults: true}}, c)
		if got := bytes.Contains(out, []byte(name+"=REDACTED")); got != hidden {
			t.Errorf("%s: hidden %v, want %v", name, got, hidden)
		}
		if out := writeJSON(t, export.Options{}, c); bytes.Contains(out, []byte(export.Redacted)) {
			t.Errorf("%s hidden without redaction", name)
		}
	}
}

// TestRedactionHidesQuotedValues: a problem whose text quotes a hidden
// header value (a malformed key, a subprotocol the client did not offer)
// gives it away in no export.
func TestRedactionHidesQuotedValues(t *testing.T) {
	opts := export.Options{Redact: export.Redaction{Headers: []string{"Sec-WebSocket-Protocol", "Sec-WebSocket-Key"}}}
	var nd bytes.Buffer
	ndw := export.NewNDJSONWriter(&nd, opts)
	st := newTestStore(t)
	tap := session.NewTap(st, session.TapOptions{Observe: func(e decode.Event) { ndw.Event(e) }})
	d := tap.Open(&decode.Connection{ID: "1", Client: "127.0.0.1:5000", Server: "127.0.0.1:80"})
	d.Feed(decode.Client, time.Unix(1, 0), []byte("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: n0t-a-k3y-s3cr3t\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n"))
	d.Feed(decode.Server, time.Unix(2, 0), []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: 0ther-s3cr3t\r\n\r\n"))
	d.End(time.Unix(3, 0))
	ndw.Flush()
	c, err := st.Conversation(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Problems) < 2 {
		t.Fatalf("problems %+v: the test needs the ones that quote the headers", c.Problems)
	}
	for format, out := range map[string][]byte{
		"JSON":           writeJSON(t, opts, c),
		"HAR":            writeHAR(t, opts, c),
		"NDJSON":         nd.Bytes(),
		"JSON, in clear": writeJSON(t, export.Options{}, c),
	} {
		if leaked := bytes.Contains(out, []byte("s3cr3t")); leaked != (format == "JSON, in clear") {
			t.Errorf("%s: the secret is there = %v:\n%s", format, leaked, out)
		}
	}
}
