package synth

// SetISN replaces how w picks initial sequence numbers, so that tests can
// start streams just below the 2^32 wrap.
func SetISN(w *Writer, isn func(n uint64) (client, server uint32)) { w.isn = isn }
