package pii

import (
	"regexp"
	"strings"
)

// IDPattern matches text containing an ID-number-shaped token (17 digits + digit/X,
// or 15 digits) that is not part of a longer digit run. Use MatchString; FindAll
// includes one boundary character per side and may miss adjacent matches.
var IDPattern = regexp.MustCompile(`(?:^|\D)(?:\d{17}[Xx]|\d{18}(?:\D|$)|\d{15}(?:\D|$))`)

// PhonePattern matches text containing a mainland mobile number (1[3-9] + 9 digits)
// that is not part of a longer digit run. Same MatchString caveat as IDPattern.
var PhonePattern = regexp.MustCompile(`(?:^|\D)1[3-9]\d{9}(?:\D|$)`)

// maskRunes keeps the first head and last tail runes and stars the rest;
// inputs shorter than minLen runes are masked entirely.
func maskRunes(s string, head, tail, minLen int) string {
	r := []rune(s)
	if len(r) < minLen || len(r) <= head+tail {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}

// MaskID keeps the first 4 and last 4 characters of an ID number:
// "350583199001011234" -> "3505**********1234". Inputs under 12 characters become all '*'.
func MaskID(id string) string { return maskRunes(id, 4, 4, 12) }

// MaskPhone masks a phone number: 11 characters -> "138****5678"; other lengths keep
// the first 3 and last 2. Inputs under 8 characters become all '*'.
func MaskPhone(p string) string {
	if len([]rune(p)) == 11 {
		return maskRunes(p, 3, 4, 11)
	}
	return maskRunes(p, 3, 2, 8)
}

// MaskName masks a personal name rune by rune: "张三" -> "张*", "欧阳娜娜" -> "欧**娜",
// one rune -> "*".
func MaskName(n string) string {
	r := []rune(n)
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	case 2:
		return string(r[0]) + "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

type tokenKind int

const (
	tokNone tokenKind = iota
	tokID
	tokPhone
)

// nextToken finds the first PII token in s at or after byte i. A token is a maximal
// ASCII digit run of length 18 or 15, a 17-digit run followed by X/x (included),
// or an 11-digit run matching 1[3-9]\d{9}. It returns the token bounds and kind.
func nextToken(s string, i int) (start, end int, kind tokenKind) {
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		switch n := j - i; {
		case n == 17 && j < len(s) && (s[j] == 'X' || s[j] == 'x'):
			return i, j + 1, tokID
		case n == 18, n == 15:
			return i, j, tokID
		case n == 11 && s[i] == '1' && s[i+1] >= '3':
			return i, j, tokPhone
		}
		i = j
	}
	return len(s), len(s), tokNone
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Redact replaces, inside free text, every substring that looks like an 18-char ID number
// (\d{17}[\dXx]), a 15-digit ID number, or a mainland mobile number (1[3-9]\d{9}) not embedded
// in a longer digit run, with its masked form. Only ASCII digits are recognised.
func Redact(s string) string {
	start, end, kind := nextToken(s, 0)
	if kind == tokNone {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for kind != tokNone {
		b.WriteString(s[last:start])
		if kind == tokID {
			b.WriteString(MaskID(s[start:end]))
		} else {
			b.WriteString(MaskPhone(s[start:end]))
		}
		last = end
		start, end, kind = nextToken(s, end)
	}
	b.WriteString(s[last:])
	return b.String()
}

// ContainsPII reports whether text still contains such a pattern (used by tests that scan logs and answers).
func ContainsPII(s string) bool {
	return IDPattern.MatchString(s) || PhonePattern.MatchString(s)
}
