package filter

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wstap/wstap/decode"
)

// matchTests are expressions and the fixture messages each selects: the
// messages listed match, the others do not.
var matchTests = []struct {
	expr, want string
}{
	{"", all},
	{"   ", all},

	// Direction, every spelling.
	{"client", fromClient},
	{"sent", fromClient},
	{"send", fromClient},
	{">", fromClient},
	{"from:client", fromClient},
	{"from=client", fromClient},
	{"FROM:Client", fromClient},
	{"to:server", fromClient},
	{"server", fromServer},
	{"received", fromServer},
	{"receive", fromServer},
	{"recv", fromServer},
	{"<", fromServer},
	{"from:server", fromServer},
	{"to:client", fromServer},
	{"from!=client", fromServer},
	{"from == server", fromServer},

	// Opcodes.
	{"text", "hello reply badtext cut raw"},
	{"TEXT", "hello reply badtext cut raw"},
	{"binary", "bin big"},
	{"bin", "bin big"},
	{"close", "close badclose"},
	{"ping", "ping"},
	{"pong", "pong"},
	{"control", "ping pong close badclose"},
	{"ctrl", "ping pong close badclose"},
	{"data", "hello reply bin badtext cut raw reserved big"},
	{"op:1", "hello reply badtext cut raw"},
	{"opcode=1", "hello reply badtext cut raw"},
	{"type:text", "hello reply badtext cut raw"},
	{"op:0x1", "hello reply badtext cut raw"},
	{"op:TEXT", "hello reply badtext cut raw"},
	{"op:bin", "bin big"},
	{"op!=text", "bin ping pong close badclose reserved big"},
	{"op:8", "close badclose"},
	{"op:0xA", "pong"},
	{"op:10", "pong"},
	{"op:cont", ""},
	{"op:continuation", ""},
	{"op:reserved", "reserved"},
	{"op:3", "reserved"},
	{"type:control", "ping pong close badclose"},
	{"type:data", "hello reply bin badtext cut raw reserved big"},

	// Flags.
	{"compressed", "reply raw"},
	{"deflated", "reply raw"},
	{"fragmented", "reply big"},
	{"truncated", "cut"},
	{"invalid", "badclose badtext"},
	{"raw", "raw"},

	// Problems: of the connection.
	{"problem", withProblem},
	{"problems", withProblem},
	{"-problem", inChat},

	// Numbers.
	{"size>1000", "cut big"},
	{"size>=15000", "cut big"},
	{"size > 1k", "cut big"},
	{"size>14Ki", "cut big"},
	{"size>1MiB", "cut"},
	{"size>=2M", "cut"},
	{"size>2M", ""},
	{"size>1.9MB", "cut"},
	{"size>=2mb", "cut"},
	{"size<=4", "bin ping pong badclose badtext raw reserved"},
	{"size=1", "ping pong reserved"},
	{"size:1", "ping pong reserved"},
	{"size==1", "ping pong reserved"},
	{"size!=1", except("ping", "pong", "reserved")},
	{"size<1", ""},
	{"size=1.5k", ""},
	{"size=15000B", "big"},
	{"wire>15005", "cut big"},
	{"wire=18", "hello"},
	{"wire<0.01k", "ping pong badclose badtext raw reserved"},
	{"frames>1", "reply big"},
	{"frames=3", "big"},
	{"frames:1", except("reply", "big")},

	// Payload searches.
	{"hello", "hello reply"},
	{"HELLO", "hello reply"},
	{"'hello'", "hello reply"},
	{`"hello back"`, "reply"},
	{"hello back", "reply"},
	{"world", "hello"},
	{"payload:world", "hello"},
	{"body:world", "hello"},
	{"case:Hello", "hello"},
	{"case:hello", "reply"},
	{`case:"Hello, World"`, "hello"},
	{"/hel+o/", "hello reply"},
	{"/HEL+O/", "hello reply"},
	{"case:/^Hello/", "hello"},
	{"case:/^hello/", ""},
	{`/^\{/`, "reply"},
	{`re:"w.rld"`, "hello"},
	{"re:^hello", "hello"},
	{"regex:/^hello/", "hello"},
	{`/(?-i)World/`, "hello"},
	{`/\d{4}/`, "big"},
	{`/a\/b/`, ""},
	{"zoë", "reply"},
	{"ZOË", "reply"},
	{"é", ""},
	{`"\xff"`, "bin badclose badtext"},
	{`"\x00\xffab"`, "bin"},
	{`case:"\x00\xffab"`, ""},
	{"bye", "close"},
	{"payload=p", "ping pong"},
	{`payload="P"`, "ping pong"},
	{"payload!=p", except("ping", "pong")},
	{"payload~^by", ""},
	{`payload~"^\\x03"`, "close badclose"},
	{`"ping"`, ""},
	{`"p"`, "ping pong"},
	{`""`, all},
	{"don't", ""},
	{`"a(b"`, ""},
	{"a&b", ""},

	// Connections.
	{"url:chat", inChat},
	{"url:CHAT", inChat},
	{"url:/chat", inChat},
	{"url=ws://example.com:8080/chat?room=1", inChat},
	{"url=ws://example.com", ""},
	{"url~^wss", inAPI},
	{`url~/v\d/`, inAPI},
	{`url~"V2"`, inAPI},
	{"url!=ws://example.com:8080/chat?room=1", inAPI + " raw reserved big"},
	{"host:example", inChat},
	{"host=example.com", inChat},
	{"host=api.other.org", inAPI},
	{"host:2001:db8", inAPI},
	{"host:10.0.0.5", "raw reserved big"},
	{"host~^10\\.", "raw reserved big"},
	{"host:8080", ""},
	{"id:1", inChat},
	{"id=1", inChat},
	{"conn:3", "raw reserved big"},
	{`id:"3"`, "raw reserved big"},
	{"id!=1", withProblem},

	// Combinations and precedence.
	{"client text", "hello cut"},
	{"client and text", "hello cut"},
	{"client AND text", "hello cut"},
	{"client && text", "hello cut"},
	{"client&&text", "hello cut"},
	{"text client", "hello cut"},
	{"client or text", "hello reply bin ping close badtext cut raw reserved big"},
	{"client || text", "hello reply bin ping close badtext cut raw reserved big"},
	{"client||text", "hello reply bin ping close badtext cut raw reserved big"},
	{"not client", fromServer},
	{"NOT client", fromServer},
	{"!client", fromServer},
	{"-client", fromServer},
	{"- client", fromServer},
	{"not not client", fromClient},
	{"!-client", fromClient},
	{"server text or binary", "reply bin badtext raw big"},
	{"server (text or binary)", "reply badtext raw"},
	{"not client and text", "reply badtext raw"},
	{"not (client and text)", except("hello", "cut")},
	{"not(client)", fromServer},
	{"ping or client text", "hello ping cut"},
	{"ping or client and text", "hello ping cut"},
	{"(ping or client) text", "hello cut"},
	{"control or compressed and server", "reply ping pong close badclose raw"},
	{"-ping client", "hello bin close cut reserved big"},
	{"> hello", "hello"},
	{">hello", ""},
	{"<html>", ""},
	{"> (ping or pong)", "ping"},
	{"< hello", "reply"},
	{"(client)", fromClient},
	{"((client))", fromClient},
	{"( client )", fromClient},
	{"client and (url:chat or problem)", fromClient},
	{"url:chat -hello", "bin ping pong"},
	{"url:chat not /hel+o/", "bin ping pong"},
	{"zz or qq or hello", "hello reply"},
	{"sent text hello or received text /back/", "hello reply"},
	{"size > 10k or frames > 1", "reply cut big"},
	{"from : client op = ping", "ping"},

	// The examples of the package documentation.
	{"> error or < /fail(ed)?/", ""},
	{"-control size>=1k", "cut big"},
	{"host:example.com problem", ""},
	{"url:chat case:UserID", ""},
}

func TestMatch(t *testing.T) {
	msgs := fixture()
	for _, tt := range matchTests {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := selected(f, msgs); got != tt.want {
			t.Errorf("%q selects\n\t%s\nwant\n\t%s", tt.expr, got, tt.want)
		}
	}
}

// TestEveryTerm checks that the table above uses every keyword and field
// name the language has.
func TestEveryTerm(t *testing.T) {
	used := func(name string) bool {
		for _, tt := range matchTests {
			if !isWordChar(name[0]) && strings.Contains(tt.expr, name) {
				return true
			}
			for _, w := range strings.FieldsFunc(strings.ToLower(tt.expr), func(r rune) bool {
				return r == ' ' || r == ':' || r == '=' || r == '!' || r == '~' || r == '(' || r == ')' || r == '<' && name != "<" || r == '>' && name != ">"
			}) {
				if w == name {
					return true
				}
			}
		}
		return false
	}
	for _, r := range grammar {
		var names []string
		for _, k := range r.keywords {
			names = append(names, k.names...)
		}
		for _, f := range r.fields {
			names = append(names, f.names...)
		}
		for _, op := range r.ops {
			names = append(names, op.names...)
		}
		for _, n := range names {
			if !used(n) {
				t.Errorf("no test uses %q", n)
			}
		}
	}
}

func TestNilAndEmpty(t *testing.T) {
	var f *Filter
	m := &decode.Message{}
	if !f.Match(chatConn, m) || f.NeedsPayload() || f.String() != "" {
		t.Error("the nil filter does not match everything")
	}
	if decided, ok := f.MatchConnection(chatConn); !decided || !ok {
		t.Error("the nil filter does not decide connections")
	}
	// Missing connection or message: the terms about them do not match,
	// nothing panics.
	g, err := Parse("client or url:chat or problem or id:1 or size>0 or hello or compressed")
	if err != nil {
		t.Fatal(err)
	}
	if g.Match(nil, nil) {
		t.Error("a filter matched nothing")
	}
	if !g.Match(nil, &decode.Message{Payload: []byte("hello")}) || !g.Match(chatConn, nil) {
		t.Error("terms about what is there do not match")
	}
}

func TestMatchConnection(t *testing.T) {
	for _, tt := range []struct {
		expr        string
		c           *decode.Connection
		decided, ok bool
	}{
		{"", chatConn, true, true},
		{"url:chat", chatConn, true, true},
		{"url:chat", apiConn, true, false},
		{"url:chat", midConn, true, false},
		{"text", chatConn, false, false},
		{"hello", chatConn, false, false},
		{"url:chat text", apiConn, true, false},
		{"url:chat text", chatConn, false, false},
		{"url:chat or text", chatConn, true, true},
		{"url:chat or text", apiConn, false, false},
		{"not url:chat", apiConn, true, true},
		{"not (url:chat text)", apiConn, true, true},
		{"not (url:chat text)", chatConn, false, false},
		{"problem", apiConn, true, true},
		{"problem", midConn, true, true},
		{"problem", chatConn, true, false},
		{"id:3 or problem", chatConn, true, false},
		{"host:example", chatConn, true, true},
		{"host:10.0.0.5", midConn, true, true},
		{"client or not client", chatConn, false, false},
	} {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		decided, ok := f.MatchConnection(tt.c)
		if decided != tt.decided || decided && ok != tt.ok {
			t.Errorf("%q on connection %s: decided %v, %v; want %v, %v", tt.expr, tt.c.ID, decided, ok, tt.decided, tt.ok)
		}
	}
}

// TestMatchConnectionAgrees checks MatchConnection against Match: when it
// decides a connection, every message of it matches accordingly.
func TestMatchConnectionAgrees(t *testing.T) {
	msgs := fixture()
	for _, tt := range matchTests {
		f, err := Parse(tt.expr)
		if err != nil {
			continue
		}
		for _, x := range msgs {
			if decided, ok := f.MatchConnection(x.c); decided && f.Match(x.c, x.m) != ok {
				t.Errorf("%q: MatchConnection decides %v for connection %s, Match says otherwise for %s", tt.expr, ok, x.c.ID, x.name)
			}
		}
	}
}

func TestNeedsPayload(t *testing.T) {
	for expr, want := range map[string]bool{
		"": false, "client text size>1k": false, "url:chat host:x id:1 problem": false,
		"hello": true, `"a b"`: true, "/x/": true, "not /x/": true, "case:x": true, "re:x": true,
		"payload=x": true, "client (ping or x)": true,
	} {
		f, err := Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		if f.NeedsPayload() != want {
			t.Errorf("%q: NeedsPayload %v, want %v", expr, !want, want)
		}
	}
	// A filter that does not need payloads matches messages without them
	// as it matches them with.
	msgs := fixture()
	for _, tt := range matchTests {
		f, _ := Parse(tt.expr)
		if f.NeedsPayload() {
			continue
		}
		for _, x := range msgs {
			bare := *x.m
			bare.Payload = nil
			if f.Match(x.c, &bare) != f.Match(x.c, x.m) {
				t.Errorf("%q reads the payload of %s", tt.expr, x.name)
			}
		}
	}
}

// errorTests are expressions that do not parse, with the exact error.
var errorTests = []struct {
	expr     string
	pos, end int
	msg      string
}{
	{"foo:bar", 0, 4, `unknown field foo:; to search for the text, quote it: "foo:bar"`},
	{"http://x", 0, 5, `unknown field http:; to search for the text, quote it: "http://x"`},
	{"text:hello", 0, 5, `unknown field text:; to search for the text, quote it: "text:hello"`},
	{"user=bob", 0, 5, `unknown field user=; to search for the text, quote it: "user=bob"`},
	{`"abc`, 0, 4, `unclosed quote: add a closing "`},
	{`'abc`, 0, 4, `unclosed quote: add a closing '`},
	{`"abc\`, 0, 5, `unclosed quote: add a closing "`},
	{"(a", 0, 1, "unclosed (: add a )"},
	{"x (a or (b)", 2, 3, "unclosed (: add a )"},
	{"(", 0, 1, "unclosed (: add a )"},
	{"a)", 1, 2, "unexpected ): there is no ( to close"},
	{")", 0, 1, "unexpected ): there is no ( to close"},
	{"()", 0, 2, "empty parentheses"},
	{"a ( )", 2, 5, "empty parentheses"},
	{"a and", 2, 5, "and needs a term after it"},
	{"a &&", 2, 4, "&& needs a term after it"},
	{"a or", 2, 4, "or needs a term after it"},
	{"(a or)", 3, 5, "or needs a term after it"},
	{"or b", 0, 2, "or needs a term before it"},
	{"a or or b", 5, 7, "or needs a term before it"},
	{"a || and b", 5, 8, "and needs a term before it"},
	{"and", 0, 3, "and needs a term before it"},
	{"not", 0, 3, "not needs a term after it"},
	{"!", 0, 1, "! needs a term after it"},
	{"a -", 2, 3, "- needs a term after it"},
	{"(not)", 1, 4, "not needs a term after it"},
	{"!=3", 0, 2, "!= needs a field before it, as in size!=0"},
	{">=3", 0, 2, ">= needs a field before it, as in size>=10k"},
	{"a & b", 2, 3, "& is not an operator: write &&, or quote it to search for it"},
	{"a | b", 2, 3, "| is not an operator: write ||, or quote it to search for it"},
	{"size", 0, 4, "size needs a comparison and a value, as in size>10k"},
	{"client size 10", 7, 11, "size needs a comparison and a value, as in size>10k"},
	{"url", 0, 3, "url needs a comparison and a value, as in url:chat"},
	{"size>", 0, 5, "size> needs a value after it, as in size>10k"},
	{"size >  ", 0, 6, "size > needs a value after it, as in size>10k"},
	{"(size<)", 1, 6, "size< needs a value after it, as in size>10k"},
	{"url:", 0, 4, "url: needs a value after it, as in url:chat"},
	{"id:&&", 0, 3, "id: needs a value after it, as in id:3"},
	{"host:", 0, 5, "host: needs a value after it, as in host=x.com"},
	{"size>abc", 5, 8, `size takes a number of bytes, as in 1000, 10k or 1.5Mi, not "abc"`},
	{"size>10kk", 5, 9, `size takes a number of bytes, as in 1000, 10k or 1.5Mi, not "10kk"`},
	{"size>-1", 5, 7, `size takes a number of bytes, as in 1000, 10k or 1.5Mi, not "-1"`},
	{"size>.5k", 5, 8, `size takes a number of bytes, as in 1000, 10k or 1.5Mi, not ".5k"`},
	{"size>1.0001k", 5, 12, `size "1.0001k" is not a whole number of bytes`},
	{"size>1.5", 5, 8, `size "1.5" is not a whole number of bytes`},
	{"size>99999999999999999999", 5, 25, `size "99999999999999999999" is too large`},
	{"size>9223372036854775808", 5, 24, `size "9223372036854775808" is too large`},
	{"size>20Gi0", 5, 10, `size takes a number of bytes, as in 1000, 10k or 1.5Mi, not "20Gi0"`},
	{"size>9999999999G", 5, 16, `size "9999999999G" is too large`},
	{"size>1.0000000000000000000k", 5, 27, `size "1.0000000000000000000k" has too many decimals`},
	{"wire>x", 5, 6, `wire takes a number of bytes, as in 1000, 10k or 1.5Mi, not "x"`},
	{"frames>1k", 7, 9, `frames takes a whole number, as in 2, not "1k"`},
	{"size~3", 4, 5, "size does not take ~; it takes : = != < <= > >="},
	{"url>3", 3, 4, "url does not take >; it takes : = != ~"},
	{"from<client", 4, 5, "from does not take <; it takes : = !="},
	{"re=x", 2, 3, "re does not take =; it takes :"},
	{"re:", 0, 3, `re: needs a value after it, as in re:"a|b"`},
	{"regex:", 0, 6, `regex: needs a value after it, as in re:"a|b"`},
	{"op", 0, 2, "op needs a comparison and a value, as in opcode:9"},
	{"case!=x", 4, 6, "case does not take !=; it takes :"},
	{"from:foo", 5, 8, `from takes client or server, not "foo"`},
	{"to:'sent'", 3, 9, `to takes client or server, not "sent"`},
	{"op:16", 3, 5, `op takes 0-15 or cont, text, binary, close, ping, pong, control, data, reserved; not "16"`},
	{"type:010x", 5, 9, `type takes 0-15 or cont, text, binary, close, ping, pong, control, data, reserved; not "010x"`},
	{"opcode:0b1", 7, 10, `opcode takes 0-15 or cont, text, binary, close, ping, pong, control, data, reserved; not "0b1"`},
	{"/a", 0, 2, "unclosed /regex/: add a closing /"},
	{`/a\/`, 0, 4, "unclosed /regex/: add a closing /"},
	{"/(a/", 1, 3, `bad regex: missing closing ): "(a"`},
	{"x /a)/", 3, 5, `bad regex: unexpected ): "a)"`},
	{`re:"a**"`, 5, 7, `bad regex: invalid nested repetition operator: "**"`},
	{`url~"("`, 5, 6, `bad regex: missing closing ): "("`},
	{"url~(", 0, 4, "url~ needs a value after it, as in url:chat"},
	{"case:/[z-a]/", 7, 10, `bad regex: invalid character class range: "z-a"`},
	{`re:"\xff"`, 3, 9, `bad regex: invalid UTF-8: "\xff"`},
	{"/a/i", 3, 4, "unexpected 'i' after /regex/; flags do not follow a /regex/: case is ignored unless in case:/regex/, others go in (?s)"},
	{"/a/b/", 3, 4, "unexpected 'b' after /regex/; put a space between terms"},
	{`"a"b`, 3, 4, "unexpected 'b' after the quoted text; put a space between terms"},
	{`url:"a"é`, 7, 9, "unexpected 'é' after the quoted text; put a space between terms"},
	{`"\q"`, 1, 3, `unknown escape \q; write \\ for a backslash`},
	{"\"\\\x01\"", 1, 3, `unknown escape \ ; write \\ for a backslash`},
	{`"\x4"`, 1, 5, `\x needs two hex digits, as in \x7f`},
	{`"\x`, 1, 3, `\x needs two hex digits, as in \x7f`},
	{`"\xg0"`, 1, 5, `\x needs two hex digits, as in \x7f`},
	{strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101), 100, 101, "nested too deeply (more than 100 levels)"},
	{strings.Repeat("!", 101) + "a", 100, 101, "nested too deeply (more than 100 levels)"},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorTests {
		f, err := Parse(tt.expr)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, %v; want an *Error", tt.expr, f, err)
			continue
		}
		if e.Pos != tt.pos || e.End != tt.end || e.Msg != tt.msg {
			t.Errorf("Parse(%q):\n\t%d-%d %s\nwant\n\t%d-%d %s", tt.expr, e.Pos, e.End, e.Msg, tt.pos, tt.end, tt.msg)
		}
	}
	// At the limit, it parses.
	if _, err := Parse(strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100)); err != nil {
		t.Error(err)
	}
	if got := (&Error{Pos: 7, End: 9, Msg: "bad"}).Error(); got != "at 7: bad" {
		t.Errorf("Error() = %q", got)
	}
}

var stringTests = []struct{ expr, want string }{
	{"", ""},
	{"  ", ""},
	{"client", "client"},
	{"sent", "client"},
	{">", "client"},
	{"from:client", "client"},
	{"to:client", "server"},
	{"from!=client", "not client"},
	{"SENT and TEXT", "client and text"},
	{"a && b || c", "a and b or c"},
	{"a b or c d", "a and b or c and d"},
	{"(a or b) c", "(a or b) and c"},
	{"not (a b)", "not (a and b)"},
	{"!!a", "not not a"},
	{"-(a or b)", "not (a or b)"},
	{"a (b c)", "a and b and c"},
	{"(a or b) or c", "a or b or c"},
	{"a or (b or (c d))", "a or b or c and d"},
	{"(((a)))", "a"},
	{"size > 10k", "size>10000"},
	{"size:5", "size=5"},
	{"size==5", "size=5"},
	{"size!=5", "size!=5"},
	{"wire<=1Mi", "wire<=1048576"},
	{"frames>=2", "frames>=2"},
	{"size<1.5KiB", "size<1536"},
	{"op:9", "ping"},
	{"op:0", "op:cont"},
	{"type:reserved", "op:reserved"},
	{"op:3", "op:3"},
	{"op:0xf", "op:15"},
	{"op!=text", "not text"},
	{"type:ctrl", "control"},
	{"deflated", "compressed"},
	{"problems", "problem"},
	{`"two words"`, `"two words"`},
	{`'single'`, "single"},
	{`"ping"`, `"ping"`},
	{`"and"`, `"and"`},
	{`"size>1"`, `"size>1"`},
	{`"foo:bar"`, `"foo:bar"`},
	{`a"b`, `a"b`},
	{`'a"b'`, `a"b`},
	{`"a\"b c"`, `"a\"b c"`},
	{`"\x00\xff\n\t\r\\"`, `"\x00\xff\n\t\r\\"`},
	{`"-x"`, `"-x"`},
	{`"!x"`, `"!x"`},
	{`"/x"`, `"/x"`},
	{`"a(b"`, `"a(b"`},
	{`"a&&b"`, `"a&&b"`},
	{`"&"`, `"&"`},
	{`""`, `""`},
	{`"é"`, "é"},
	{`/a\/b/`, `/a\/b/`},
	{`re:"a/b"`, `/a\/b/`},
	{`re:"a\\/b"`, `/a\/b/`},
	{`re:"a\\\\/b"`, `/a\\\/b/`},
	{"re:x", "/x/"},
	{"regex:/x/", "/x/"},
	{"case:/X/", "case:/X/"},
	{`case:"A B"`, `case:"A B"`},
	{"case:Hi", "case:Hi"},
	{`case:"/x/"`, `case:"/x/"`},
	{"case:ping", "case:ping"},
	{"url:chat", "url:chat"},
	{`url:"a b"`, `url:"a b"`},
	{"url:/a/b", "url:/a/b"},
	{"url=x", "url=x"},
	{"url~^wss", "url~/^wss/"},
	{"host : x", "host:x"},
	{"url!=x", "not url=x"},
	{"id:3", "id:3"},
	{"conn=3", "id:3"},
	{"id!=3", "not id:3"},
	{`id:""`, `id:""`},
	{"payload:x", "x"},
	{`body="{}"`, "payload={}"},
	{`payload=""`, `payload=""`},
	{`payload="a b"`, `payload="a b"`},
	{"payload~x", "/x/"},
	{"payload:ping", `"ping"`},
	{"payload!=x", "not payload=x"},
	{"> hello && size>1k", "client and hello and size>1000"},
	{">hello", ">hello"},
	{"<html> <", "<html> and server"},
	{`">"`, `">"`},
	{"<(>)", "server and client"},
}

func TestString(t *testing.T) {
	for _, tt := range stringTests {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("%q.String() = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// TestRoundTrip checks that String parses back to a filter that writes
// the same and selects the same, for every expression of the tests.
func TestRoundTrip(t *testing.T) {
	var exprs []string
	for _, tt := range matchTests {
		exprs = append(exprs, tt.expr)
	}
	for _, tt := range stringTests {
		exprs = append(exprs, tt.expr)
	}
	for _, expr := range exprs {
		checkRoundTrip(t, expr)
	}
}

func checkRoundTrip(t *testing.T, expr string) {
	t.Helper()
	f, err := Parse(expr)
	if err != nil {
		return
	}
	s := f.String()
	g, err := Parse(s)
	if err != nil {
		t.Fatalf("%q writes %q, which does not parse: %v", expr, s, err)
	}
	if g.String() != s {
		t.Fatalf("%q writes %q, which writes %q", expr, s, g.String())
	}
	if f.NeedsPayload() != g.NeedsPayload() {
		t.Fatalf("%q and %q differ in NeedsPayload", expr, s)
	}
	msgs := fixture()
	if a, b := selected(f, msgs), selected(g, msgs); a != b {
		t.Fatalf("%q selects %s; %q, what it writes, selects %s", expr, a, s, b)
	}
	for _, c := range []*decode.Connection{chatConn, apiConn, midConn} {
		d1, ok1 := f.MatchConnection(c)
		d2, ok2 := g.MatchConnection(c)
		if d1 != d2 || d1 && ok1 != ok2 {
			t.Fatalf("%q and %q decide connection %s differently", expr, s, c.ID)
		}
	}
}

func TestHelp(t *testing.T) {
	h := Help()
	lines := strings.Split(strings.TrimSuffix(h, "\n"), "\n")
	if len(lines) > 24 {
		t.Errorf("Help has %d lines", len(lines))
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("Help line of %d characters: %s", n, l)
		}
	}
	// Every spelling the parser knows is on the screen, and every example
	// parses.
	for _, r := range grammar {
		for _, k := range r.keywords {
			for _, n := range k.names {
				if !strings.Contains(h, " "+n+" ") {
					t.Errorf("Help does not show %q", n)
				}
			}
		}
		for _, f := range r.fields {
			for _, n := range f.names {
				if !strings.Contains(h, n) {
					t.Errorf("Help does not show %q", n)
				}
			}
		}
		for _, e := range r.examples {
			if _, err := Parse(e); err != nil {
				t.Errorf("Help example %q: %v", e, err)
			}
		}
	}
}

// TestDocErrors checks the errors the package documentation shows.
func TestDocErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"size>abc": `at 5: size takes a number of bytes, as in 1000, 10k or 1.5Mi, not "abc"`,
		"http://x": `at 0: unknown field http:; to search for the text, quote it: "http://x"`,
		"(ping or": "at 6: or needs a term after it",
		"/(a|b/":   `at 1: bad regex: missing closing ): "(a|b"`,
	} {
		if _, err := Parse(expr); err == nil || err.Error() != want {
			t.Errorf("Parse(%q): %v, want %s", expr, err, want)
		}
	}
}
