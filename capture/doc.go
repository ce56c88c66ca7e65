// Package capture turns packet captures into decoded WebSocket connections.
//
// A capture is read record by record (pcap or pcapng, gzip-compressed or
// not, from a file, a pipe or a live interface), each packet is taken apart
// down to TCP, the TCP streams are put back together with gopacket's
// reassembly package, and the bytes of each connection are fed to the
// session.Tap, which decodes them and records what they carry. Whatever the capture lost (segments never captured,
// packets cut by the snap length, a file cut in the middle of a record)
// becomes a gap for the decoder or a warning, never a reason to stop: the
// decoder resynchronises after a gap, so later messages are still shown.
//
// Connections are found on any port, from their Upgrade handshake or,
// when the capture began after it, from their framing alone (the tap
// decides). Connections that carry something else (a database protocol,
// TLS) are not shown; TLS is counted in a warning, since its content
// cannot be decoded from a capture at all.
//
// The files by concern: reader.go, pcap.go and pcapng.go read captures;
// live_linux.go captures from an interface; packet.go takes packets apart
// and filter.go (with filter_bpf.go for the kernel) selects them;
// tracker.go drives the reassembly, stream.go is one TCP connection,
// order.go keeps the two directions of a connection in the order they
// happened, ended.go ends connections and remembers them a while, and
// workers.go decodes on several goroutines. proxy.go is a source of its
// own: a reverse proxy that relays each connection byte for byte and
// decodes a copy of what it relays.
package capture
