// Package filter is the language of the terminal UI's filter bar: a small
// expression that selects messages, and with them the connections that
// have a selected message.
//
//	client text                text messages the client sent
//	> error or < /fail(ed)?/   sent with "error" in them, or received and matching the regex
//	-control size>=1k          data messages of 1000 bytes or more
//	host:example.com problem   the messages of connections to example.com that have problems
//	url:chat case:UserID       in connections to a chat URL, payloads with UserID in this case
//
// Parse turns an expression into a *Filter, whose Match has the signature
// of session.Match; an expression that does not parse gives an *Error that
// says what is wrong and where (byte offsets, for highlighting in place).
// Help returns the cheat sheet the help screen shows; it is generated from
// the table the parser reads, so the two cannot disagree.
//
// # Terms
//
// Keywords and field names are matched ignoring case.
//
// Direction, named as browsers' developer tools name it, from the
// client's side: client, sent, send or > select what the client sent;
// server, received, receive, recv or < what the server sent. The signs
// stand alone (> hello); glued to a word they are text (<html>). The
// fields from:client, from:server, to:client and to:server say the same.
//
// Opcode: text, binary (bin), close, ping, pong; control (close, ping,
// pong and the reserved control opcodes 11-15) and data (everything
// else). The field opcode (op, type) takes a number, 0-15 or 0x0-0xf, or
// a name: the keywords above, cont, reserved (3-7 and 11-15). op:9,
// type:ping, op!=text.
//
// Flags: compressed (deflated): sent with permessage-deflate (RFC 7692);
// fragmented: joined from more than one frame (Message.Frames, which the
// caller fills for it to match); truncated: the payload was
// not kept whole (over the retain limit, cut off, or inflation stopped);
// invalid: a text message, or a close reason, that is not valid UTF-8
// (text that was cut off or could not be inflated cannot be judged and is
// not invalid); raw: compressed, and could not be inflated.
//
// Problems: problem (problems) selects the messages of connections that
// have problems. Match sees a message, not its index in the connection,
// so it cannot tell which message a problem is about; the UI marks those
// itself.
//
// Numbers: size (the decoded payload size), wire (the bytes on the wire,
// frame headers included) and frames (how many frames) are compared with
// =, ==, :, !=, <, <=, > or >=, with spaces around or not: size>1000,
// size <= 10k, frames>1. Units: k, M and G are 1000, 1000² and 1000³
// bytes, Ki, Mi and Gi 1024, 1024² and 1024³ (IEC 80000-13), with an
// optional B (kB, MiB), in any case; a fraction is allowed when the result
// is a whole number of bytes: 1.5k.
//
// Payload: a word that is not a keyword, or text in double or single
// quotes, selects the messages whose payload contains it, ignoring the
// case of any letter (é finds É), in the payload as decoded: unmasked and
// inflated. Quotes take the escapes \\ \" \' \n \r \t and \xHH (any byte,
// for binary payloads). hello world is two terms, both required; "hello
// world" is one. A keyword or a field name is searched for when quoted:
// "ping", "size", "http://". A /regex/, or re:REGEX (regex:), selects
// payloads that match the RE2 regular expression (see regexp/syntax),
// also ignoring case; a / in a /regex/ is written \/. case:TEXT and
// case:/REGEX/ match case exactly.
// payload:TEXT (body:) is the same as a bare TEXT, payload=TEXT selects a
// payload that is TEXT, and payload~REGEX a payload that matches.
//
// Connection: url: and host: select the messages of connections whose
// URL, or host (the URL's or the server address's, without the port),
// contains the text, ignoring case; url= and host= compare the whole, and
// url~ and host~ match a regex. id:3 (conn:3) selects connection 3.
//
// Any field compared with != is the negation of the same field with =.
//
// # Combining
//
// Terms side by side must all match, as they must with and (&&); or (||)
// needs one of them; not, ! and - negate the term that follows (-ping).
// not binds tighter than and, and tighter than or:
//
//	a b or not c d   is   (a and b) or ((not c) and d)
//
// Parentheses group. Nesting deeper than 100 levels is refused.
//
// # Errors
//
// An expression that does not parse gets an *Error: a message that says
// what is wrong and how to write it, and the bytes it is about, for the
// filter bar to underline:
//
//	size>abc     at 5: size takes a number of bytes, as in 1000, 10k or 1.5Mi, not "abc"
//	http://x     at 0: unknown field http:; to search for the text, quote it: "http://x"
//	(ping or     at 6: or needs a term after it
//	/(a|b/       at 1: bad regex: missing closing ): "(a|b"
//
// # Connections
//
// A message is selected by Match(connection, message). A connection is
// shown when one of its messages is selected. MatchConnection decides
// what the connection alone decides (url:, host:, id:, problem): a view
// can skip a connection whose answer is no without reading its messages,
// and show one whose answer is yes even before it has any. NeedsPayload
// says whether Match reads payloads at all, so that a view reads them
// from the store only for a payload search.
//
// String writes a filter in a canonical form that parses back to the same
// filter: "> hello && size>1k" is "client and hello and size>1000".
package filter
