package export_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
)

// TestLoadErrors: a file that is not what it claims gets one error naming
// the file, the line and column, and the JSON path of what is wrong, and
// no connections; from LoadEvents too.
func TestLoadErrors(t *testing.T) {
	const (
		harHead = "{\"log\": {\"version\": \"1.2\", \"creator\": {\"name\": \"t\", \"version\": \"1\"},\n \"entries\": [\n"
		wsEntry = "  {\"request\": {\"method\": \"GET\", \"url\": \"ws://h/x\"}, \"response\": {\"status\": 101},\n   \"_resourceType\": \"websocket\", \"_webSocketMessages\": [\n"
		harTail = "\n  ]}\n]}}\n"
	)
	for _, tc := range []struct {
		name, file, data, want string
	}{
		{"empty", "s.har", "  \n", "s.har:2:1: the file is empty; a HAR or wstap JSON export was expected"},
		{"not json", "s.har", "GET / HTTP/1.1\r\n", `s.har:1:1: not a JSON object (it starts with "GET / HT"); a HAR or wstap JSON export was expected`},
		{"pcap bytes", "s.json", "\xd4\xc3\xb2\xa1\x02\x00", `s.json:1:1: not a JSON object (it starts with the bytes d4 c3 b2 a1 02 00); a HAR or wstap JSON export was expected`},
		{"syntax error", "s.har", "{\"log\": {\n  \"entries\": [\n    {\"request\": }\n  ]}}", "s.har:3:17: invalid JSON: invalid character '}' looking for beginning of value"},
		{"cut short", "s.har", "{\"log\": {\n  \"entries\": [", "s.har:2:15: invalid JSON: the file ends in the middle of the document"},
		{"trailing data", "s.json", "{\"connections\": []}\n{}", "s.json:2:1: more data after the end of the JSON document"},
		{"ndjson", "s.ndjson", "{\"event\": \"opened\", \"conn\": \"1\"}\n{\"event\": \"closed\", \"conn\": \"1\"}\n", "s.ndjson:2:1: this is an NDJSON event stream (--ndjson), which is not read back; read a --json or --har export instead"},
		{"neither", "s.json", "{\"frames\": []}", `s.json:1:1: neither a HAR (no "log" member) nor a wstap JSON export (no "connections" member)`},
		{"log not object", "s.har", "{\"log\": [1]}", "s.har:1:9: log: expected an object, found an array"},
		{"no entries", "s.har", "{\"log\": {\"version\": \"1.2\"}}", "s.har:1:9: log.entries: required member is missing"},
		{"entries not array", "s.har", "{\"log\": {\"entries\": {}}}", "s.har:1:21: log.entries: expected an array, found an object"},
		{"no request", "s.har", harHead + "  {\"response\": {\"status\": 200}}" + "\n]}}", "s.har:3:3: log.entries[0].request: required member is missing"},
		{"bad url", "s.har", harHead + "  {\"request\": {\"url\": \"/relative\"}}" + "\n]}}", `s.har:3:23: log.entries[0].request.url: not an absolute URL: "/relative"`},
		{"bad opcode", "s.har", harHead + wsEntry + "    {\"type\": \"send\", \"time\": 1.5, \"opcode\": 1, \"data\": \"a\"},\n    {\"type\": \"send\", \"time\": 1.5, \"opcode\": 99, \"data\": \"a\"}" + harTail,
			"s.har:6:45: log.entries[0]._webSocketMessages[1].opcode: 99 is out of range (0 to 15)"},
		{"opcode not a number", "s.har", harHead + wsEntry + "    {\"type\": \"send\", \"time\": 1.5, \"opcode\": \"text\", \"data\": \"a\"}" + harTail,
			`s.har:5:45: log.entries[0]._webSocketMessages[0].opcode: expected an integer, found a string`},
		{"bad base64", "s.har", harHead + wsEntry + "    {\"type\": \"receive\", \"time\": 1.5, \"opcode\": 2, \"data\": \"not base64!\"}" + harTail,
			"s.har:5:59: log.entries[0]._webSocketMessages[0].data: not valid base64: illegal base64 data at input byte 3"},
		{"bad type", "s.har", harHead + wsEntry + "    {\"type\": \"sent\", \"time\": 1.5, \"opcode\": 1, \"data\": \"a\"}" + harTail,
			`s.har:5:14: log.entries[0]._webSocketMessages[0].type: expected "send", "receive" or "error", found "sent"`},
		{"no time", "s.har", harHead + wsEntry + "    {\"type\": \"send\", \"opcode\": 1, \"data\": \"a\"}" + harTail,
			"s.har:5:5: log.entries[0]._webSocketMessages[0].time: required member is missing"},
		{"bad start time", "s.har", harHead + "  {\"startedDateTime\": \"yesterday\", \"request\": {\"url\": \"http://h/\"}}" + "\n]}}",
			`s.har:3:23: log.entries[0].startedDateTime: not an RFC 3339 time: "yesterday"`},
		{"json wrong format", "s.json", "{\"format\": \"other\", \"connections\": []}", `s.json:1:12: format: format is "other"; this reader knows "wstap"`},
		{"json newer version", "s.json", "{\"format\": \"wstap\", \"version\": 2, \"connections\": []}", "s.json:1:32: version: version 2 is newer than this reader (1)"},
		{"json no id", "s.json", "{\"connections\": [\n  {\"client\": \"a\"}\n]}", "s.json:2:3: connections[0].id: required member is missing"},
		{"json bad side", "s.json", "{\"connections\": [{\"id\": \"1\",\n  \"frames\": [],\n  \"messages\": [{\"from\": \"middle\", \"opcode\": 1, \"text\": \"x\"}]}]}",
			`s.json:3:25: connections[0].messages[0].from: expected "client" or "server", found "middle"`},
		{"json frame out of range", "s.json", "{\"connections\": [{\"id\": \"1\",\n  \"frames\": [],\n  \"messages\": [{\"from\": \"client\", \"opcode\": 1, \"frames\": [0], \"text\": \"x\"}]}]}",
			"s.json:3:59: connections[0].messages[0].frames[0]: refers to a frame, but the connection lists none"},
		{"json frame index", "s.json", "{\"connections\": [{\"id\": \"1\",\n  \"frames\": [{\"from\": \"client\", \"opcode\": 1, \"length\": 0, \"message\": 0}],\n  \"messages\": [{\"from\": \"client\", \"opcode\": 1, \"frames\": [0, 3], \"text\": \"\"}]}]}",
			"s.json:3:62: connections[0].messages[0].frames[1]: 3 is out of range (0 to 0)"},
		{"json bad data", "s.json", "{\"connections\": [{\"id\": \"1\", \"messages\": [{\"from\": \"client\", \"opcode\": 2, \"data_base64\": \"@@\"}]}]}",
			"s.json:1:90: connections[0].messages[0].data_base64: not valid base64: illegal base64 data at input byte 0"},
		{"json no payload", "s.json", "{\"connections\": [{\"id\": \"1\", \"messages\": [{\"from\": \"client\", \"opcode\": 2}]}]}",
			"s.json:1:43: connections[0].messages[0].data_base64: required member is missing"},
		{"json bad mask", "s.json", "{\"connections\": [{\"id\": \"1\", \"frames\": [{\"from\": \"client\", \"opcode\": 1, \"mask_key\": \"xyz\"}]}]}",
			`s.json:1:85: connections[0].frames[0].mask_key: a mask key is 4 bytes in hex, like 0a1b2c3d; found "xyz"`},
		{"json frame not in message", "s.json", "{\"connections\": [{\"id\": \"1\",\n \"frames\": [{\"from\": \"client\", \"opcode\": 1, \"length\": 1, \"message\": 0}],\n \"messages\": [{\"from\": \"client\", \"opcode\": 1, \"frames\": [], \"text\": \"x\"}]}]}",
			"s.json:2:13: connections[0].frames[0]: the frame has no payload_base64 and message 0 does not list it among its frames"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns, err := export.Load(tc.file, strings.NewReader(tc.data))
			if err == nil {
				t.Fatalf("loaded %d connections, want the error %q", len(conns), tc.want)
			}
			if conns != nil {
				t.Errorf("connections returned with the error: %d", len(conns))
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tc.want)
			}
			var le *export.LoadError
			if !errors.As(err, &le) || le.Name != tc.file {
				t.Fatalf("not a *LoadError naming the file: %#v", err)
			}
			// LoadEvents, which Load records, finds the same, however the
			// file arrives (Sniff shows what arrived of a file that is no
			// export, so those are read whole); except that cutting a frame
			// written without payload out of its message is left to its
			// consumer, which keeps the frames.
			if strings.Contains(tc.want, "the frame has no payload_base64") {
				return
			}
			readers := []io.Reader{strings.NewReader(tc.data)}
			if !errors.As(err, new(*export.NotExportError)) {
				readers = append(readers, iotest.OneByteReader(strings.NewReader(tc.data)))
			}
			for _, r := range readers {
				err := export.LoadEvents(context.Background(), tc.file, r, func(decode.Event) {})
				if err == nil || err.Error() != tc.want {
					t.Fatalf("LoadEvents error\n got: %v\nwant: %s", err, tc.want)
				}
			}
		})
	}
}
