package export_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
)

// TestLiveConversations runs every script between real gorilla peers over
// loopback, decodes what passed the relay, and checks that the messages
// read back from the JSON and from the HAR export are exactly what the
// peers sent: the peers' own scripts are the ground truth, not a golden
// file.
func TestLiveConversations(t *testing.T) {
	for _, sc := range scripts() {
		t.Run(sc.name, func(t *testing.T) {
			c := decodeStream(t, "1", runScript(t, sc), nil)
			var want []msg
			for _, s := range sc.steps {
				op := decode.Opcode(s.op)
				want = append(want, msg{s.from, op, string(s.data)})
				if s.op == websocket.PingMessage {
					// gorilla answers a ping with a pong of the same data
					want = append(want, msg{s.from.Other(), decode.OpPong, string(s.data)})
				}
			}
			if !sc.reject {
				code := string([]byte{byte(sc.closeCode >> 8), byte(sc.closeCode)})
				want = append(want,
					msg{sc.closeFrom, decode.OpClose, code + sc.closeReason},
					msg{sc.closeFrom.Other(), decode.OpClose, code}) // gorilla echoes the code only
			}
			// A pong is sent when the ping is read, so it may come after the
			// receiver's own next message: compare each direction in order.
			for _, side := range []decode.Side{decode.Client, decode.Server} {
				wantSide := bySide(want, side)
				sameMessages(t, "decoded "+side.String(), bySide(messagesOf(c), side), wantSide)
				viaJSON := load(t, "live.json", writeJSON(t, export.Options{}, c))[0]
				sameMessages(t, "JSON "+side.String(), bySide(messagesOf(viaJSON), side), wantSide)
				viaHAR := load(t, "live.har", writeHAR(t, export.Options{}, c))[0]
				sameMessages(t, "HAR "+side.String(), bySide(messagesOf(viaHAR), side), wantSide)
			}
			wantState := decode.StateClosed
			if sc.reject {
				wantState = decode.StateRejected
			}
			if c.State != wantState {
				t.Errorf("state %s, want %s", c.State, wantState)
			}
		})
	}
}

func bySide(ms []msg, side decode.Side) []msg {
	var out []msg
	for _, m := range ms {
		if m.from == side {
			out = append(out, m)
		}
	}
	return out
}
