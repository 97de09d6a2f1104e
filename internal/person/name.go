// Package person holds the rules about a person's own particulars that several areas apply
// alike (the roster import and the residents' registration): what a name may be.
package person

import (
	"unicode"
	"unicode/utf8"
)

// NameMaxLen is the longest name accepted, in characters.
const NameMaxLen = 30

// ValidName accepts 1-30 characters of letters, marks, spaces and the middle dot of minority
// names. A name as typed is folded to one spelling first (registration folds full-width forms
// and middle-dot variants).
func ValidName(s string) bool {
	n := utf8.RuneCountInString(s)
	if n < 1 || n > NameMaxLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || r == '·' || r == '•' || r == '.' || r == ' ') {
			return false
		}
	}
	return true
}
