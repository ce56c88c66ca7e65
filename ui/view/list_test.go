package view

import "testing"

// TestListFollow: following keeps the newest row selected as rows
// arrive; moving up stops it, and the rows that arrive then are counted
// as new until they have been in view; End follows again.
func TestListFollow(t *testing.T) {
	l := NewList(true)
	l.SetHeight(5)
	l.SetLen(3)
	if l.Selected() != 2 || !l.Following() || l.Unseen() != 0 {
		t.Fatalf("following 3 rows: sel %d follow %v unseen %d", l.Selected(), l.Following(), l.Unseen())
	}
	l.SetLen(20)
	if l.Selected() != 19 || l.Top() != 15 {
		t.Fatalf("following 20 rows in 5: sel %d top %d, want 19 and 15", l.Selected(), l.Top())
	}
	l.Move(-1)
	if l.Following() || l.Selected() != 18 {
		t.Fatalf("moved up: follow %v sel %d", l.Following(), l.Selected())
	}
	l.SetLen(30)
	if l.Selected() != 18 || l.Unseen() != 10 {
		t.Fatalf("10 rows arrived after moving up: sel %d unseen %d, want 18 and 10", l.Selected(), l.Unseen())
	}
	// Moving down brings rows into view: they are no longer new.
	l.Move(3)
	if l.Unseen() != 8 {
		t.Fatalf("two new rows came into view: unseen %d, want 8", l.Unseen())
	}
	l.Page(1)
	if l.Unseen() != 4 || l.Following() {
		t.Fatalf("a page down: unseen %d follow %v, want 4 and false", l.Unseen(), l.Following())
	}
	l.End()
	if !l.Following() || l.Selected() != 29 || l.Unseen() != 0 {
		t.Fatalf("End: follow %v sel %d unseen %d", l.Following(), l.Selected(), l.Unseen())
	}
	// The wheel up stops following too.
	l.Scroll(-3)
	if l.Following() || l.Top() != 22 || l.Selected() != 26 {
		t.Fatalf("wheel up: follow %v top %d sel %d, want false 22 26", l.Following(), l.Top(), l.Selected())
	}
}

// TestListNotFollowing: a list that never followed (a file being read)
// stays at the top and has nothing to call new.
func TestListNotFollowing(t *testing.T) {
	l := NewList(false)
	l.SetHeight(4)
	l.SetLen(2)
	l.SetLen(1000)
	if l.Selected() != 0 || l.Top() != 0 || l.Unseen() != 0 || l.Following() {
		t.Fatalf("sel %d top %d unseen %d follow %v", l.Selected(), l.Top(), l.Unseen(), l.Following())
	}
	l.Move(10)
	if l.Selected() != 10 || l.Top() != 7 {
		t.Fatalf("down 10 in 4 rows: sel %d top %d", l.Selected(), l.Top())
	}
	l.Select(999)
	l.Home()
	if l.Selected() != 0 || l.Top() != 0 {
		t.Fatalf("Home: sel %d top %d", l.Selected(), l.Top())
	}
	// Shrinking (a filter) keeps the selection in range.
	l.Select(500)
	l.SetLen(10)
	if l.Selected() != 9 || l.Top() != 6 {
		t.Fatalf("shrunk to 10: sel %d top %d", l.Selected(), l.Top())
	}
	l.SetLen(0)
	if l.Selected() != -1 {
		t.Fatalf("empty: sel %d", l.Selected())
	}
}
