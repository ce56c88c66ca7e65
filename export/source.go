package export

import "github.com/wstap/wstap/session"

// storeReader reads the connections a writer is given through one
// session.Reader: its buffers, grown on the first connections, serve all
// the next ones. A reader per connection grew them again for each, a
// quarter of what reading a capture of thousands of short connections
// allocated.
type storeReader struct {
	store *session.Store
	r     *session.Reader
}

// source returns connection id of s, read through the writer's reader.
func (sr *storeReader) source(s *session.Store, id session.ConnID) (session.ConnSource, error) {
	if sr.store != s {
		sr.store, sr.r = s, s.NewReader()
	}
	return sr.r.Source(id)
}
