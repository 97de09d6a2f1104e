package database

import (
	"fmt"
	"strings"
)

// A named query stays one statement with a fixed text: a list of ids is written `IN (?)` and a
// batch insert with one VALUES tuple, and the caller widens them to the batch with ExpandIn
// and MultiRow just before running. Only placeholders are added, never values, so the text
// prepared at start-up is the text that runs, with more markers.

// ExpandIn turns the single `IN (?)` of q into n placeholders. q without exactly one `IN (?)`,
// or n < 1 (an empty IN list is not SQL), is a programming error.
func ExpandIn(q string, n int) string {
	if n < 1 {
		panic(fmt.Sprintf("database: ExpandIn of %d placeholders", n))
	}
	const marker = "IN (?)"
	i := strings.Index(q, marker)
	if i < 0 || strings.Count(q, marker) != 1 {
		panic("database: ExpandIn needs exactly one IN (?) in " + q)
	}
	return q[:i] + "IN (" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")" + q[i+len(marker):]
}

// MultiRow repeats the VALUES tuple of a single-row INSERT n times, keeping what follows it
// (ON DUPLICATE KEY UPDATE ...). The tuple is the parenthesised group after the first VALUES;
// quoted literals inside it are copied as they are. q without one, or n < 1, is a programming
// error.
func MultiRow(q string, n int) string {
	if n < 1 {
		panic(fmt.Sprintf("database: MultiRow of %d rows", n))
	}
	start, end := valuesTuple(q)
	if start < 0 {
		panic("database: MultiRow needs a VALUES (...) tuple in " + q)
	}
	tuple := q[start:end]
	var b strings.Builder
	b.Grow(len(q) + (n-1)*(len(tuple)+1))
	b.WriteString(q[:start])
	for k := range n {
		if k > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tuple)
	}
	b.WriteString(q[end:])
	return b.String()
}

// valuesTuple finds the tuple after the first `VALUES` followed by `(`: its first byte and the
// byte after its closing parenthesis, or -1, -1.
func valuesTuple(q string) (int, int) {
	for from := 0; ; {
		i := strings.Index(q[from:], "VALUES")
		if i < 0 {
			return -1, -1
		}
		i += from + len("VALUES")
		j := i
		for j < len(q) && (q[j] == ' ' || q[j] == '\n' || q[j] == '\t' || q[j] == '\r') {
			j++
		}
		if j == len(q) || q[j] != '(' {
			from = i
			continue
		}
		depth, quote := 0, byte(0)
		for k := j; k < len(q); k++ {
			c := q[k]
			switch {
			case quote != 0:
				if c == '\\' {
					k++
				} else if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"' || c == '`':
				quote = c
			case c == '(':
				depth++
			case c == ')':
				depth--
				if depth == 0 {
					return j, k + 1
				}
			}
		}
		return -1, -1
	}
}
