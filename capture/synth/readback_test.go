package synth_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/session"
)

// TestReadBack reads the capture with wstap's own reader and decoder: the
// same connections, between the same addresses, with the same messages,
// and no lost bytes or problems.
func TestReadBack(t *testing.T) {
	convs := testConvs()
	_, data := writeFile(t, convs)
	rd, _, err := capture.Open("synth.pcapng", bytes.NewReader(data))
	must(t, err)
	if rd.Format() != capture.FormatPcapng {
		t.Fatalf("format %s", rd.Format())
	}
	st, err := session.NewStore(session.StoreOptions{SpillDir: t.TempDir()})
	must(t, err)
	defer st.Close()
	var warnings []string
	tr := capture.NewTracker(capture.Options{Tap: session.NewTap(st, session.TapOptions{}), Warn: func(s string) { warnings = append(warnings, s) }})
	err = capture.Run(context.Background(), rd, tr, capture.RunOptions{})
	tr.Close()
	must(t, err)
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	stats := tr.Stats()
	if stats.Skipped > 0 || stats.TCP != stats.Records {
		t.Errorf("%d records, %d TCP, %d skipped", stats.Records, stats.TCP, stats.Skipped)
	}
	ended, err := st.Ended()
	must(t, err)
	if len(ended) != len(convs) {
		t.Fatalf("wstap found %d connections, want %d", len(ended), len(convs))
	}
	for _, c := range convs {
		i := slices.IndexFunc(ended, func(x *session.Conversation) bool { return x.Client == c.wireClient })
		if i < 0 {
			t.Errorf("no connection from %s", c.wireClient)
			continue
		}
		got := ended[i]
		if got.Server != c.wireServer {
			t.Errorf("%s: server %s, want %s", c.wireClient, got.Server, c.wireServer)
		}
		for _, p := range got.Problems {
			t.Errorf("%s: problem %s: %s", c.wireClient, p.Kind, p.Message)
		}
		var msgs []wsMsg
		for _, m := range got.Messages {
			msgs = append(msgs, wsMsg{fromClient: m.From == decode.Client, opcode: int(m.Opcode), payload: m.Payload})
		}
		if !slices.EqualFunc(msgs, c.msgs, msgEqual) {
			t.Errorf("%s: wstap found\n%v\nwant\n%v", c.wireClient, msgs, c.msgs)
		}
	}
}
