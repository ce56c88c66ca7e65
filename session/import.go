package session

import "github.com/wstap/wstap/decode"

// Importer records the events of a loaded HAR or JSON file (export's
// LoadEvents) in the store: imported connections have no decoder, and are
// always shown. Each connection keeps its saved id unless it is taken.
type Importer struct {
	tap   *Tap
	conns map[*decode.Connection]*storedConn
}

// Import returns an importer recording into the tap's store.
func (t *Tap) Import() *Importer {
	return &Importer{tap: t, conns: map[*decode.Connection]*storedConn{}}
}

// Event records one event of the loader. The loader's connection is told
// apart by its pointer, from its opened event to its closed one.
func (im *Importer) Event(e decode.Event) {
	if e.Conn == nil {
		return
	}
	t := im.tap
	sc, ok := im.conns[e.Conn]
	if !ok {
		claimed := t.ClaimID(e.Conn.ID)
		s := t.store
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		_, sc = s.add(e.Conn, claimed)
		s.mu.Unlock()
		im.conns[e.Conn] = sc
		t.shown.Add(1)
		if e.Kind != decode.EventOpened {
			t.store.record(sc, decode.Event{Kind: decode.EventOpened, Conn: e.Conn}, e.Conn.State, true, nil)
		}
	}
	if e.Kind == decode.EventMessage {
		t.messages.Add(1)
	}
	t.store.record(sc, e, e.Conn.State, true, nil)
	if e.Kind == decode.EventClosed {
		delete(im.conns, e.Conn)
	}
}

// Close ends the connections the loader left open (it failed, or was
// stopped), so that what was read of them is recorded as ended.
func (im *Importer) Close() {
	for c := range im.conns {
		im.Event(decode.Event{Kind: decode.EventClosed, Conn: c})
	}
}
