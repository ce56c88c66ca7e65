package view

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/export"
	"github.com/wstap/wstap/internal/outfile"
	"github.com/wstap/wstap/session"
)

// exportFormat is a format an export writes, told by the file's
// extension.
type exportFormat int

const (
	formatJSON exportFormat = iota
	formatHAR
	formatNDJSON
)

func (f exportFormat) String() string {
	return [...]string{"JSON", "HAR", "NDJSON"}[f]
}

// formatOf tells the format from a file name: .har, .json, or .ndjson
// (also .jsonl).
func formatOf(path string) (exportFormat, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".har":
		return formatHAR, nil
	case ".json":
		return formatJSON, nil
	case ".ndjson", ".jsonl":
		return formatNDJSON, nil
	}
	return 0, errors.New("name the file .har, .json or .ndjson: the extension says the format")
}

// expandHome turns a leading ~/ into the home directory, as a shell
// would for a name typed at its prompt.
func expandHome(path string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return path
}

// exportConn is one connection an export writes: for an export of the
// view, the messages and frames shown of it (nil lists: every one from
// the cuts on).
type exportConn struct {
	id     session.ConnID
	strID  string
	whole  bool
	msgs   []int32
	frames []int32
	cut    [2]int
	listed bool
}

// Export writes the session to path, in the format its extension says:
// the whole session (all), or the view (the connections and messages the
// filter and a clear leave shown). The file is checked as the command
// line checks its outputs (never an input, never a capture), written to a
// temporary file beside it and renamed into place when complete. It is
// written on a goroutine of its own, with its progress for Work; an error
// found before that is returned.
func (b *Browser) Export(path string, all bool) error {
	path = expandHome(strings.TrimSpace(path))
	if path == "" {
		return errors.New("give a file name")
	}
	format, err := formatOf(path)
	if err != nil {
		return err
	}
	if err := outfile.Check("", path, b.opts.Protect); err != nil {
		return err
	}
	b.refresh()
	plan := b.exportPlan(all)
	what := "the view"
	if all || b.flt == nil && b.clear == nil {
		what = "the session"
	}
	ctx, w := b.startWork("exporting "+what, "connections")
	w.total = int64(len(plan))
	store, post, opts := b.store, b.opts.Post, b.opts.Export
	goSafe(post, nil, func() {
		err := writeExport(ctx, store, path, format, plan, opts, func(done int) {
			post(func() {
				if b.work == w {
					w.done = int64(done)
				}
			})
		})
		post(func() {
			if b.work != w && err == nil {
				return
			}
			b.endWork(w)
			switch {
			case errors.Is(err, context.Canceled):
				b.SetStatus("export cancelled; "+path+" was not written", StyleWarning)
			case err != nil:
				b.SetStatus(fmt.Sprintf("export failed: %v", err), StyleError)
			default:
				b.SetStatus(fmt.Sprintf("exported %s (%s) as %s to %s", what, Plural(int64(len(plan)), "connection"), format, path), StyleOK)
			}
		})
	})
	return nil
}

// exportPlan lists the connections to export, in the order of the
// connection list (the store's).
func (b *Browser) exportPlan(all bool) []exportConn {
	var plan []exportConn
	if all || b.flt == nil && b.clear == nil {
		for id := range session.ConnID(b.stored) {
			plan = append(plan, exportConn{id: id, whole: true})
		}
		return plan
	}
	n := b.rows.len(b.stored)
	for r := range n {
		id := b.rows.at(r)
		ec := exportConn{id: id}
		ec.cut = [2]int{b.clear.cutOf(id, false), b.clear.cutOf(id, true)}
		if b.flt != nil {
			cm := b.flt.conn(id)
			// Copies: the filter's lists change as it goes on.
			ec.listed = true
			ec.msgs = slices.Clone(listIndex(cm.msgs, ec.cut[0]).list)
			ec.frames = slices.Clone(listIndex(cm.frames, ec.cut[1]).list)
		}
		if info, err := b.store.Info(id); err == nil {
			ec.strID = info.ID
		}
		plan = append(plan, ec)
	}
	return plan
}

// writeExport writes the plan to path as format.
func writeExport(ctx context.Context, store *session.Store, path string, format exportFormat, plan []exportConn, opts export.Options, progress func(done int)) (err error) {
	f, err := outfile.CreateAtomic(path, io.Discard)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Discard()
			return
		}
		err = f.Commit()
	}()
	var th throttle
	if format == formatNDJSON {
		return writeNDJSON(ctx, store, f, plan, opts)
	}
	var w interface {
		Write(session.ConnSource) error
		Close() error
	}
	if format == formatHAR {
		w = export.NewHARWriter(f, opts)
	} else {
		w = export.NewJSONWriter(f, opts)
	}
	for k, ec := range plan {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := store.Source(ec.id)
		if err != nil {
			return fmt.Errorf("reading connection %d: %w", ec.id, err)
		}
		if !ec.whole {
			if src, err = newViewSource(store, src, ec); err != nil {
				return err
			}
		}
		if err := w.Write(src); err != nil {
			return err
		}
		if th.due() {
			progress(k + 1)
		}
	}
	return w.Close()
}

// writeNDJSON replays the store's log into an NDJSON writer: the events
// of the connections in the plan, and of their messages those shown.
func writeNDJSON(ctx context.Context, store *session.Store, out io.Writer, plan []exportConn, opts export.Options) error {
	nd := export.NewNDJSONWriter(out, opts)
	sink := &viewSink{ctx: ctx, next: nd, conns: map[string]*exportConn{}}
	for i := range plan {
		if plan[i].whole {
			sink.all = true
			break
		}
		sink.conns[plan[i].strID] = &plan[i]
	}
	return store.FollowEvents(sink).Finish()
}

// viewSink passes on the events of the connections and messages an
// export of the view has, and stops when its context is done.
type viewSink struct {
	ctx   context.Context
	next  *export.NDJSONWriter
	all   bool
	conns map[string]*exportConn
}

func (v *viewSink) Event(e decode.Event) error {
	if err := v.ctx.Err(); err != nil {
		return err
	}
	if !v.all {
		ec := v.conns[e.Conn.ID]
		if ec == nil {
			return nil
		}
		if e.Kind == decode.EventMessage && !ec.hasMessage(e.Index) {
			return nil
		}
	}
	return v.next.Event(e)
}

func (v *viewSink) Flush() error { return v.next.Flush() }

// hasMessage reports whether message i of the connection is exported.
func (ec *exportConn) hasMessage(i int) bool {
	if ec.listed {
		_, ok := slices.BinarySearch(ec.msgs, int32(i))
		return ok
	}
	return i >= ec.cut[0]
}

// viewSource is a connection of the store as the view shows it: only the
// messages shown, their frames, and the problems about them (or about
// the connection as a whole), renumbered so that the export is
// consistent: a message's frames and a frame's message point where they
// should in the file.
type viewSource struct {
	src      session.ConnSource
	meta     decode.Connection
	msgs     Index
	frames   Index
	problems []decode.Problem
	m        decode.Message
	f        decode.Frame
	list     []int
}

func newViewSource(store *session.Store, src session.ConnSource, ec exportConn) (*viewSource, error) {
	v := &viewSource{src: src, meta: *src.Meta()}
	if ec.listed {
		v.msgs, v.frames = Index{list: ec.msgs, explicit: true}, Index{list: ec.frames, explicit: true}
	} else {
		v.msgs, v.frames = rangeIndex(ec.cut[0], v.meta.MessageCount), rangeIndex(ec.cut[1], v.meta.FrameCount)
	}
	probs, err := store.Problems(ec.id)
	if err != nil {
		return nil, fmt.Errorf("reading the problems of connection %s: %w", v.meta.ID, err)
	}
	for _, p := range probs {
		m, mok := v.renumber(v.msgs, p.MessageIndex)
		f, fok := v.renumber(v.frames, p.Frame)
		if (p.MessageIndex >= 0 && !mok) || (p.Frame >= 0 && !fok && !mok) {
			continue
		}
		p.MessageIndex, p.Frame = m, f
		v.problems = append(v.problems, p)
	}
	v.meta.MessageCount, v.meta.FrameCount, v.meta.ProblemCount = v.msgs.Len(), v.frames.Len(), len(v.problems)
	return v, nil
}

// renumber returns the position of index i in x, or -1 when x has not
// got it (or i is -1).
func (v *viewSource) renumber(x Index, i int) (int, bool) {
	if i < 0 {
		return -1, false
	}
	p, ok := x.Find(i)
	if !ok {
		return -1, false
	}
	return p, true
}

func (v *viewSource) Meta() *decode.Connection { return &v.meta }

// Fork shares the indexes and problems, which do not change once made.
func (v *viewSource) Fork() session.ConnSource {
	return &viewSource{src: v.src.Fork(), meta: v.meta, msgs: v.msgs, frames: v.frames, problems: v.problems}
}

func (v *viewSource) Frame(i int) (*decode.Frame, error) {
	f, err := v.src.Frame(v.frames.At(i))
	if err != nil {
		return nil, err
	}
	v.f = *f
	v.f.Message, _ = v.renumber(v.msgs, f.Message)
	return &v.f, nil
}

// FrameHead is Frame without the payload when that saves a read.
func (v *viewSource) FrameHead(i int) (*decode.Frame, error) {
	f, err := v.src.FrameHead(v.frames.At(i))
	if err != nil {
		return nil, err
	}
	v.f = *f
	v.f.Message, _ = v.renumber(v.msgs, f.Message)
	return &v.f, nil
}

func (v *viewSource) Message(i int) (*decode.Message, error) {
	m, err := v.src.Message(v.msgs.At(i))
	if err != nil {
		return nil, err
	}
	v.m = *m
	v.list = v.list[:0]
	for _, fi := range m.Frames {
		if p, ok := v.renumber(v.frames, fi); ok {
			v.list = append(v.list, p)
		}
	}
	v.m.Frames = v.list
	return &v.m, nil
}

func (v *viewSource) Derivable(i int) (bool, error) {
	m, err := v.src.Message(v.msgs.At(i))
	if err != nil {
		return false, err
	}
	// A message whose frames are not all exported cannot give its
	// frames' payloads.
	for _, fi := range m.Frames {
		if !v.frames.Has(fi) {
			return false, nil
		}
	}
	return v.src.Derivable(v.msgs.At(i))
}

func (v *viewSource) Problem(i int) (decode.Problem, error) {
	if i < 0 || i >= len(v.problems) {
		return decode.Problem{}, fmt.Errorf("connection %s has no problem %d in the view", v.meta.ID, i)
	}
	return v.problems[i], nil
}

func (v *viewSource) Exchange(i int) (decode.Exchange, error) { return v.src.Exchange(i) }
