package registration

import (
	"strings"
	"unicode"
)

// foldName brings a name as typed to one spelling: full-width forms (U+FF01-U+FF5E) become
// their ASCII counterparts, the ideographic space an ordinary space, and every middle-dot
// variant the middle dot '·' that person.ValidName accepts.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == '\u3000':
			return ' '
		}
		if isDot(r) && r != '.' {
			return '·'
		}
		return r
	}, s)
}

// isDot reports the characters written between the parts of a minority or foreign name.
func isDot(r rune) bool {
	switch r {
	case '·', '•', '.', '\u2027', '\u2219', '\u22C5', '\u30FB', '\uFF65', '\u0387', '\u16EB':
		return true
	}
	return false
}

// nameKey is what two names are compared by: folded, without whitespace or middle dots.
func nameKey(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || isDot(r) {
			return -1
		}
		return r
	}, foldName(s))
}

// sameName reports whether a submitted name is the roster's, up to width, spacing and the
// middle dot. An empty name matches nothing.
func sameName(roster, submitted string) bool {
	k := nameKey(roster)
	return k != "" && k == nameKey(submitted)
}
