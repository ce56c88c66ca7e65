package view

// List is a position in a list of rows that grows at its end: which row
// is selected, which is the first in view, and whether the list follows
// its newest row. It is the whole of follow mode: while following, the
// selection stays on the last row as rows arrive; the moment the user
// moves up it stops, and the rows that arrive after that are counted as
// new until they have been in view.
type List struct {
	n      int
	sel    int // -1 when the list is empty
	top    int
	height int
	follow bool
	// seen is how many rows (from the first) have been in view since
	// following stopped: the rows past it are the new ones. tracking is
	// set once following stopped: a list that never followed (a file
	// being read) has nothing to call new.
	seen     int
	tracking bool
}

// NewList returns an empty list that follows its newest row when follow
// is set.
func NewList(follow bool) List {
	return List{sel: -1, height: 1, follow: follow}
}

// Len returns how many rows the list has.
func (l *List) Len() int { return l.n }

// Selected returns the selected row, or -1 when the list is empty.
func (l *List) Selected() int { return l.sel }

// Top returns the first row in view.
func (l *List) Top() int { return l.top }

// Height returns how many rows are in view.
func (l *List) Height() int { return l.height }

// Following reports whether the list follows its newest row.
func (l *List) Following() bool { return l.follow }

// Unseen returns how many rows arrived since following stopped that have
// not been in view: the "N new" marker.
func (l *List) Unseen() int {
	if l.follow || !l.tracking {
		return 0
	}
	return max(0, l.n-l.seen)
}

// SetHeight sets how many rows are in view (the area was resized).
func (l *List) SetHeight(h int) {
	l.height = max(h, 1)
	l.settle()
}

// SetLen says how many rows the list has now. Following, the selection
// moves to the last row; otherwise it stays where it is, and the rows
// past what was seen count as new.
func (l *List) SetLen(n int) {
	n = max(n, 0)
	if n == l.n {
		return
	}
	l.n = n
	if l.sel < 0 && n > 0 {
		l.sel = 0
	}
	l.settle()
}

// Reset empties the list for other content (another connection), keeping
// whether it follows.
func (l *List) Reset() {
	l.n, l.sel, l.top, l.seen, l.tracking = 0, -1, 0, 0, false
}

// Move moves the selection by d rows; up (d < 0) stops following.
func (l *List) Move(d int) {
	if l.n == 0 {
		return
	}
	if d < 0 {
		l.stopFollowing()
	}
	l.sel = clamp(l.sel+d, 0, l.n-1)
	l.settle()
}

// Page moves the selection by d pages.
func (l *List) Page(d int) { l.Move(d * max(l.height-1, 1)) }

// Home selects the first row, which stops following.
func (l *List) Home() {
	if l.n == 0 {
		return
	}
	l.stopFollowing()
	l.sel = 0
	l.settle()
}

// End selects the last row and follows again.
func (l *List) End() {
	l.Follow(true)
}

// Follow turns following on (the selection goes to the newest row) or
// off.
func (l *List) Follow(on bool) {
	if !on {
		l.stopFollowing()
		return
	}
	l.follow = true
	if l.n > 0 {
		l.sel = l.n - 1
	}
	l.settle()
}

// Select selects row i (a click, a search hit, a jump), which stops
// following unless i is the last row and the list was following.
func (l *List) Select(i int) {
	if l.n == 0 {
		return
	}
	i = clamp(i, 0, l.n-1)
	if i != l.n-1 {
		l.stopFollowing()
	}
	l.sel = i
	l.settle()
}

// Scroll moves the view by d rows (the mouse wheel) and the selection
// with it when it would leave the view; scrolling up stops following.
func (l *List) Scroll(d int) {
	if l.n == 0 {
		return
	}
	if d < 0 {
		l.stopFollowing()
	}
	l.top = clamp(l.top+d, 0, max(l.n-l.height, 0))
	l.sel = clamp(l.sel, l.top, min(l.top+l.height, l.n)-1)
	l.settle()
}

func (l *List) stopFollowing() {
	if l.follow {
		l.follow, l.tracking = false, true
		l.seen = l.n
	}
}

// settle keeps the selection in range and in view, and counts what came
// into view as seen.
func (l *List) settle() {
	if l.n == 0 {
		l.sel, l.top = -1, 0
		return
	}
	if l.follow {
		l.sel = l.n - 1
	}
	l.sel = clamp(l.sel, 0, l.n-1)
	if l.sel < l.top {
		l.top = l.sel
	}
	if l.sel >= l.top+l.height {
		l.top = l.sel - l.height + 1
	}
	l.top = clamp(l.top, 0, max(l.n-l.height, 0))
	if l.sel < l.top {
		l.top = l.sel
	}
	if !l.follow {
		l.seen = max(l.seen, min(l.top+l.height, l.n))
	}
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
