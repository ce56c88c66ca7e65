package tui

import (
	"github.com/gdamore/tcell/v2"
	"github.com/wstap/wstap/ui/view"
)

// theme maps the roles of text (view.Style) to the terminal's styles.
// Colors are dropped by tcell when NO_COLOR is set; what must still be
// told apart (the selection, problems, invalid bytes, headers) is told by
// attributes and characters too, not by color alone.
type theme struct {
	styles [view.StyleAccent + 1]tcell.Style
	// selected is laid over the selected row of the focused list;
	// selectedBlur over that of the others.
	selected, selectedBlur overlay
	// bar is the title and status bars; barFocus an area's title when it
	// has the keys.
	bar, barFocus tcell.Style
}

func newTheme() *theme {
	t := &theme{
		selected:     func(st tcell.Style) tcell.Style { return st.Reverse(true) },
		selectedBlur: func(st tcell.Style) tcell.Style { return st.Underline(true).Bold(true) },
	}
	d := tcell.StyleDefault
	s := &t.styles
	s[view.StyleNormal] = d
	s[view.StyleDim] = d.Foreground(tcell.ColorGray)
	s[view.StyleHeader] = d.Bold(true)
	s[view.StyleClient] = d.Foreground(tcell.ColorAqua)
	s[view.StyleServer] = d.Foreground(tcell.ColorYellow)
	s[view.StyleError] = d.Foreground(tcell.ColorRed).Bold(true)
	s[view.StyleWarning] = d.Foreground(tcell.ColorOrange).Bold(true)
	s[view.StyleInvalid] = d.Foreground(tcell.ColorRed).Reverse(true)
	s[view.StyleControl] = d.Foreground(tcell.ColorFuchsia)
	s[view.StyleKey] = d.Foreground(tcell.ColorSkyblue)
	s[view.StyleString] = d.Foreground(tcell.ColorLightGreen)
	s[view.StyleNumber] = d.Foreground(tcell.ColorOrange)
	s[view.StyleLiteral] = d.Foreground(tcell.ColorFuchsia)
	s[view.StylePunct] = d.Foreground(tcell.ColorGray)
	s[view.StyleOK] = d.Foreground(tcell.ColorGreen)
	s[view.StyleAccent] = d.Foreground(tcell.ColorYellow).Bold(true)
	t.bar = d.Reverse(true)
	t.barFocus = d.Reverse(true).Bold(true)
	return t
}

func (t *theme) style(s view.Style) tcell.Style { return t.styles[s] }
