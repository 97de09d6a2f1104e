package database_test

import (
	"testing"

	"github.com/canbao/canbao/internal/platform/database"
)

func TestExpandIn(t *testing.T) {
	for _, c := range []struct {
		q    string
		n    int
		want string
	}{
		{"SELECT id FROM t WHERE id IN (?) FOR UPDATE", 1, "SELECT id FROM t WHERE id IN (?) FOR UPDATE"},
		{"SELECT id FROM t WHERE id IN (?) FOR UPDATE", 3, "SELECT id FROM t WHERE id IN (?,?,?) FOR UPDATE"},
		{"SELECT id FROM t WHERE a = ? AND id IN (?) AND b < ?", 2, "SELECT id FROM t WHERE a = ? AND id IN (?,?) AND b < ?"},
	} {
		if got := database.ExpandIn(c.q, c.n); got != c.want {
			t.Errorf("ExpandIn(%q, %d) = %q, want %q", c.q, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		q string
		n int
	}{
		{"SELECT id FROM t WHERE id = ?", 2},
		{"SELECT id FROM t WHERE id IN (?) OR b IN (?)", 2},
		{"SELECT id FROM t WHERE id IN (?)", 0},
	} {
		panics(t, "ExpandIn "+c.q, func() { database.ExpandIn(c.q, c.n) })
	}
}

func TestMultiRow(t *testing.T) {
	for _, c := range []struct {
		q    string
		n    int
		want string
	}{
		{"INSERT INTO t (a, b) VALUES (?, ?)", 1, "INSERT INTO t (a, b) VALUES (?, ?)"},
		{"INSERT INTO t (a, b) VALUES (?, ?)", 3, "INSERT INTO t (a, b) VALUES (?, ?),(?, ?),(?, ?)"},
		// What follows the tuple stays once, even when it says VALUES( itself.
		{"INSERT INTO t (a, n) VALUES (?, ?)\nON DUPLICATE KEY UPDATE n = n + VALUES(n)", 2,
			"INSERT INTO t (a, n) VALUES (?, ?),(?, ?)\nON DUPLICATE KEY UPDATE n = n + VALUES(n)"},
		// Literals in the tuple are copied whole, parentheses and quotes included.
		{"INSERT INTO t (a, s, b) VALUES\n(?, 'x (y'')', ?)", 2, "INSERT INTO t (a, s, b) VALUES\n(?, 'x (y'')', ?),(?, 'x (y'')', ?)"},
	} {
		if got := database.MultiRow(c.q, c.n); got != c.want {
			t.Errorf("MultiRow(%q, %d) = %q, want %q", c.q, c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		q string
		n int
	}{
		{"UPDATE t SET a = ?", 2},
		{"INSERT INTO t (a) VALUES (?", 2},
		{"INSERT INTO t (a) VALUES (?)", 0},
	} {
		panics(t, "MultiRow "+c.q, func() { database.MultiRow(c.q, c.n) })
	}
}

func panics(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}
