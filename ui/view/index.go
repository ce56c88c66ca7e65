package view

import (
	"slices"

	"github.com/wstap/wstap/session"
)

// Index is an ascending list of item indexes (messages or frames of one
// connection) that a timeline shows: a range of every index from lo, or
// an explicit list a filter made. It is a value that shares the filter's
// list, which only grows at its end.
type Index struct {
	list     []int32
	explicit bool
	lo, hi   int
}

// rangeIndex is every index from lo to hi-1.
func rangeIndex(lo, hi int) Index { return Index{lo: lo, hi: max(hi, lo)} }

// listIndex is the indexes in list (ascending) from the first that is at
// least from.
func listIndex(list []int32, from int) Index {
	i, _ := slices.BinarySearch(list, int32(from))
	return Index{list: list[i:], explicit: true}
}

// Len returns how many indexes there are.
func (x Index) Len() int {
	if x.explicit {
		return len(x.list)
	}
	return x.hi - x.lo
}

// At returns the i-th index.
func (x Index) At(i int) int {
	if x.explicit {
		return int(x.list[i])
	}
	return x.lo + i
}

// Find returns the position of the first index that is at least v, and
// whether it is v.
func (x Index) Find(v int) (int, bool) {
	if x.explicit {
		return slices.BinarySearch(x.list, int32(v))
	}
	if v < x.lo {
		return 0, false
	}
	if v >= x.hi {
		return x.hi - x.lo, false
	}
	return v - x.lo, true
}

// Has reports whether v is one of the indexes.
func (x Index) Has(v int) bool {
	_, ok := x.Find(v)
	return ok
}

// connRows are the rows of the connection list: explicit ids (those a
// filter selected, or those kept by a clear), then, when tail is set,
// every connection from from on.
type connRows struct {
	explicit []session.ConnID
	tail     bool
	from     session.ConnID
}

// allConns returns the rows of every connection of the store.
func allConns() connRows { return connRows{tail: true} }

func (r *connRows) len(stored int) int {
	n := len(r.explicit)
	if r.tail {
		n += max(stored-int(r.from), 0)
	}
	return n
}

func (r *connRows) at(i int) session.ConnID {
	if i < len(r.explicit) {
		return r.explicit[i]
	}
	return r.from + session.ConnID(i-len(r.explicit))
}

// rowOf returns the row of connection id, or -1 when it has none.
func (r *connRows) rowOf(id session.ConnID, stored int) int {
	if i, ok := slices.BinarySearch(r.explicit, id); ok {
		return i
	}
	if r.tail && id >= r.from && int(id) < stored {
		return len(r.explicit) + int(id-r.from)
	}
	return -1
}
