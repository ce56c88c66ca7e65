package tui

import (
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"
	"github.com/wstap/wstap/ui/view"
)

// drawText draws text at x, y in at most width columns and returns the
// column after it. Grapheme clusters are kept whole, and one that would
// straddle the edge is not drawn.
func drawText(s tcell.Screen, x, y, width int, text string, st tcell.Style) int {
	end := x + width
	state := -1
	for text != "" && x < end {
		var cluster string
		var w int
		cluster, text, w, state = uniseg.FirstGraphemeClusterInString(text, state)
		if w == 0 {
			continue
		}
		if x+w > end {
			break
		}
		s.Put(x, y, cluster, st)
		x += w
	}
	return x
}

// overlay changes a style: the selection is laid over the styles of the
// selected row's spans.
type overlay func(tcell.Style) tcell.Style

func noOverlay(st tcell.Style) tcell.Style { return st }

// drawLine draws a line of spans at x, y in width columns, the rest of
// the width filled with blanks; over is laid over every span's style.
func drawLine(s tcell.Screen, th *theme, x, y, width int, l view.Line, over overlay) {
	end := x + width
	for _, sp := range l {
		if x >= end {
			break
		}
		x = drawText(s, x, y, end-x, sp.Text, over(th.style(sp.Style)))
	}
	fill := over(tcell.StyleDefault)
	for ; x < end; x++ {
		s.Put(x, y, " ", fill)
	}
}

// fillRow fills a row with blanks in st.
func fillRow(s tcell.Screen, x, y, width int, st tcell.Style) {
	for i := range width {
		s.Put(x+i, y, " ", st)
	}
}
