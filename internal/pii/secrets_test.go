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
