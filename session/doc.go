// Package session is where decoded traffic lives: one tap for every source,
// a store in bounded memory, and the sinks that follow it.
//
//	pcap file ─┐                           ┌─> streaming sinks: dump, NDJSON
//	live iface ─┼─> Tap ─> decode ─────────┤
//	proxy ──────┤   (ids, gate,   (events) └─> Store ─> UI, JSON/HAR writers
//	HAR / JSON ─┘    order)                    (index in RAM, payloads spilled)
//
// Every source goes through the Tap: it owns connection ids, creates one
// decoder per connection, decides which connections are shown (WebSocket
// or plain HTTP, never unrelated TCP), and records what they carry in the
// Store.
//
// The Store keeps a compact record per frame and per message, and the
// payloads in an append-only spill file in the temporary directory (removed
// even if the process is killed: it is unlinked as soon as it is made).
// Records are kept in blocks; full blocks go to the spill file too, so that
// memory does not grow with a connection that lasts for days: what stays in
// RAM is a block per connection being written, small caches of recent
// blocks and payloads, and per connection its handshake and problems.
//
// Readers (the JSON and HAR writers, the dump, the terminal UI) never see
// state that is still changing: they ask the store for a connection's
// metadata, a range of records or a payload, and get copies. The store
// also keeps a log of what happened in order (connection opened, exchange,
// handshake, message, problem, closed); a sink follows the log at its own
// pace from its own goroutine, so that a slow disk or a big export never
// stalls decoding or a proxy's relay, and nothing is dropped.
//
// A run with nothing to browse the store afterwards (no terminal UI) lets
// a connection go once every sink handled it (StoreOptions.LetGo): the
// spill file writes back late, so a short connection's bytes are dropped
// from memory without ever being written, and a file being read waits
// for sinks that lag (Store.Pace) rather than spilling what they are
// about to read. A source that decodes on several goroutines can put the
// log in the order of its steps with a Sequencer, so that what streaming
// sinks write is the same every run. A streaming sink that can render an
// event apart from itself (RenderingSink) has a Sequencer's events
// rendered on its lanes, from the decoder's events while they are in the
// CPU's caches, and written in the log's order; other events are rebuilt
// from the store.
package session
