package view

import "strings"

// column is one column of a list: its title, its width (for the flexible
// column, the least it takes), how it is aligned, and how soon it is left
// out when the screen is narrow (the higher drop, the sooner).
type column struct {
	title string
	width int
	right bool
	flex  bool
	drop  int
	// want is what the flexible column should get before columns that
	// may be dropped are shown.
	want int
}

// layout decides the width of each column for a screen width: columns
// are left out, the soonest first, until the rest fit with a space
// between them; the flexible column takes what remains. A column left out
// has width 0.
func layout(cols []column, width int) []int {
	widths := make([]int, len(cols))
	need := func(skip int) int {
		n, shown := 0, 0
		for _, c := range cols {
			if c.drop > skip {
				continue
			}
			n += c.width
			if c.flex && skip > 0 {
				n += max(c.want-c.width, 0)
			}
			shown++
		}
		return n + max(shown-1, 0)
	}
	skip := 0
	for _, c := range cols {
		skip = max(skip, c.drop)
	}
	// The least that must be dropped for the rest to fit.
	for skip > 0 && need(skip) > width {
		skip--
	}
	used, flex := 0, -1
	for i, c := range cols {
		if c.drop > skip {
			continue
		}
		widths[i] = c.width
		if c.flex {
			flex = i
		}
		used += c.width + 1
	}
	used = max(used-1, 0)
	if flex >= 0 && width > used {
		widths[flex] += width - used
	}
	return widths
}

// row lays cells out in the columns: each padded or cut to its width,
// aligned as its column says, one space apart.
func row(cols []column, widths []int, cells []Span) Line {
	var l Line
	first := true
	for i, c := range cols {
		w := widths[i]
		if w == 0 {
			continue
		}
		if !first {
			l = l.add(" ", StyleNormal)
		}
		first = false
		cell := cells[i]
		text := fit(cell.Text, w)
		pad := strings.Repeat(" ", w-textWidth(text))
		if c.right {
			l = l.add(pad, StyleNormal).add(text, cell.Style)
		} else {
			l = l.add(text, cell.Style).add(pad, StyleNormal)
		}
	}
	return l
}

// header is the header row of cols.
func header(cols []column, widths []int) Line {
	cells := make([]Span, len(cols))
	for i, c := range cols {
		cells[i] = Span{c.title, StyleHeader}
	}
	return row(cols, widths, cells)
}

// textWidth is the number of columns s takes: one per rune, which is
// what the text this package lays out in columns is made of (addresses,
// numbers, names); previews are cut by the screen instead.
func textWidth(s string) int {
	n := 0
	for range s {
		n++
	}
	return n
}

// fit cuts s to w columns, with an ellipsis when it was cut.
func fit(s string, w int) string {
	if textWidth(s) <= w {
		return s
	}
	if w <= 1 {
		return strings.Repeat("…", w)
	}
	n := 0
	for i := range s {
		if n == w-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
