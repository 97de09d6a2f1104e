package pii

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedactSecretsEveryForm(t *testing.T) {
	const secret = "s3cr+t/k*y~=="
	const phone = "13812345678"
	const name = "林晓燕"
	forms := []string{secret, url.QueryEscape(secret), percentEncode(secret), percentEncode(percentEncode(secret)),
		phone, name, url.QueryEscape(name), percentEncode(name), fmt.Sprintf("%+q", name)}
	for _, f := range forms {
		in := "upstream said: [" + f + "] end"
		got := RedactSecrets(in, secret, phone, name)
		if strings.Contains(got, secret) || strings.Contains(got, phone) || strings.Contains(got, name) ||
			strings.Contains(got, url.QueryEscape(secret)) || strings.Contains(got, percentEncode(name)) {
			t.Errorf("RedactSecrets(%q) = %q: a value is left", in, got)
		}
		if !strings.Contains(got, Redacted) || !strings.HasPrefix(got, "upstream said: [") || !strings.HasSuffix(got, "] end") {
			t.Errorf("RedactSecrets(%q) = %q", in, got)
		}
	}
	// Empty and one-byte values are never replaced.
	if got := RedactSecrets("a b", "", "a"); got != "a b" {
		t.Errorf("short values replaced: %q", got)
	}
}

func TestRedactSecretsCapsLength(t *testing.T) {
	got := RedactSecrets(strings.Repeat("参", 200))
	if !utf8.ValidString(got) || len(got) > RedactedMaxLen+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("capped text: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestRedactSecretsErr(t *testing.T) {
	const secret = "app-secret-value"
	plain := fmt.Errorf("read: %w", io.ErrUnexpectedEOF)
	if got := RedactSecretsErr(plain, secret); got != plain {
		t.Errorf("an error without the secret was replaced: %v", got)
	}
	leaky := fmt.Errorf("dial https://x.test/?secret=%s: %w", url.QueryEscape(secret+"+"), io.ErrUnexpectedEOF)
	got := RedactSecretsErr(leaky, secret+"+")
	if strings.Contains(got.Error(), secret) || !strings.Contains(got.Error(), Redacted) {
		t.Errorf("RedactSecretsErr = %v", got)
	}
	if errors.Is(got, io.ErrUnexpectedEOF) {
		t.Error("the chain of a redacted error is kept")
	}
	if RedactSecretsErr(nil, secret) != nil {
		t.Error("nil is not nil")
	}
}

// TestRedactSecretsEdges pins the boundaries: a two-byte value is a secret, the longer of two
// overlapping values goes first whatever order they are given in, a text of exactly the cap is
// kept whole, a longer one is cut at the cap (or before a rune that straddles it), and a text
// with no rune start at all is cut to nothing rather than read out of range.
func TestRedactSecretsEdges(t *testing.T) {
	if got := RedactSecrets("id=ab;", "ab"); got != "id="+Redacted+";" {
		t.Errorf("a two-byte value: %q", got)
	}
	if got := RedactSecrets("x token123 y", "token", "token123"); got != "x "+Redacted+" y" {
		t.Errorf("overlapping values: %q, want the longer one replaced whole", got)
	}
	exact := strings.Repeat("a", RedactedMaxLen)
	if got := RedactSecrets(exact); got != exact {
		t.Errorf("a text of exactly %d bytes changed: %d bytes", RedactedMaxLen, len(got))
	}
	if got := RedactSecrets(strings.Repeat("a", 300)); got != exact+"…" {
		t.Errorf("300 ASCII bytes: %d bytes %q…", len(got), got[:min(20, len(got))])
	}
	// 255 ASCII bytes, then a three-byte rune across the cap: cut before the rune.
	if got := RedactSecrets(strings.Repeat("a", RedactedMaxLen-1) + "参参"); got != strings.Repeat("a", RedactedMaxLen-1)+"…" {
		t.Errorf("a rune across the cap: %q", got[max(0, len(got)-10):])
	}
	if got := RedactSecrets(strings.Repeat("\x80", 300)); got != "…" {
		t.Errorf("no rune start: %q", got)
	}
}
