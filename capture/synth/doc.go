// Package synth writes the byte streams a proxy relays as a pcapng capture
// of real-looking TCP, so that Wireshark and tshark open a decrypted
// (wss) or plain (ws) session as if it had been captured on the wire.
//
// A Writer holds the file; Open starts one connection with a three-way
// handshake, and its Stream turns each relayed chunk into segments with
// consistent sequence and acknowledgement numbers, ends a direction with a
// FIN or the whole connection with a RST. The packets are synthetic, and
// shaped so that Wireshark's TCP analysis has nothing to complain about:
//
//   - Link type Ethernet, with two fixed locally administered MAC
//     addresses (02:00:00:00:00:01 for the client, ...:02 for the server).
//     Every tool that reads captures handles Ethernet, for IPv4 and IPv6
//     alike (the EtherType says which); raw-IP link types are not read
//     everywhere.
//   - Segments of at most the MSS of a 1500-byte Ethernet MTU: 1460 bytes
//     of payload over IPv4, 1440 over IPv6 (RFC 9293 3.7.1). The SYNs
//     announce it in an MSS option. PSH is set on the last segment of each
//     Write, as a sending stack sets it at the end of a SEND call.
//   - The other side acknowledges every second segment and the end of
//     every Write with a bare ACK (RFC 9293 3.8.6.3 asks for an ACK for at
//     least every second full-sized segment). The window is 65535 without
//     window scaling, far more than two segments in flight, so Wireshark
//     never sees a full window, an unseen segment or a lost one.
//   - Initial sequence numbers are deterministic: derived from the
//     stream's ordinal in its Writer, so the same calls give the same
//     file byte for byte. RFC 9293 3.4.1 asks for unpredictable ISNs to
//     resist off-path attackers, which a file does not have.
//   - Client and server of the same family give IPv4 or IPv6 packets.
//     IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket
//     reports for an IPv4 peer) are unmapped first. When one side is IPv4
//     and the other IPv6, both are written as IPv6, the IPv4 side mapped
//     (RFC 4291 2.5.5.2): a packet has one family, and the mapping loses
//     nothing.
//   - Timestamps are taken as given and packets are written in the order
//     the calls are made; the segments of one call are contiguous.
//
// A Writer is safe for concurrent use: one lock serializes the file, and
// the per-connection state lives in each Stream, guarded by the same lock
// so that the two directions of one connection may be written from two
// goroutines, as a proxy relays them. A call holds the lock for all its
// packets: a 16 MiB message keeps other connections waiting for the ten
// milliseconds or so that its 11,500 segments take. Writing allocates
// nothing: one frame is built at a time in a reused buffer.
package synth
