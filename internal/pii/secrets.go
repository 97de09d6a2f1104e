package pii

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted stands in, in a redacted text, for each sensitive value removed.
const Redacted = "[redacted]"

// RedactedMaxLen caps a redacted text, in bytes (cut at a rune boundary, then "…").
const RedactedMaxLen = 256

// secretForms returns v as an upstream's message may echo it: raw, form-encoded,
// percent-encoded (RFC 3986) once and twice, JSON-escaped. Values under 2 bytes have none:
// replacing single characters would destroy the text and protect nothing.
func secretForms(v string) []string {
	if len(v) < 2 {
		return nil
	}
	pe := percentEncode(v)
	forms := []string{v, url.QueryEscape(v), pe, percentEncode(pe)}
	if q := fmt.Sprintf("%+q", v); len(q) > 2 {
		forms = append(forms, q[1:len(q)-1])
	}
	return forms
}

// percentEncode keeps only A-Z a-z 0-9 - _ . ~ and encodes every other byte as %XX (RFC 3986,
// upper-case hex), as signed request strings do.
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// RedactSecrets removes every sensitive value (a credential, a token, a phone number, a
// message parameter) from s, raw or in any of the encoded forms an upstream echoes it in,
// longest form first so an encoded form is not half-replaced through a shorter one, and caps
// the result at RedactedMaxLen bytes. It is for the text of an upstream's answer or error
// before it goes into an error or a log line.
func RedactSecrets(s string, sensitive ...string) string {
	var forms []string
	for _, v := range sensitive {
		forms = append(forms, secretForms(v)...)
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range forms {
		s = strings.ReplaceAll(s, f, Redacted)
	}
	if len(s) > RedactedMaxLen {
		cut := RedactedMaxLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// RedactSecretsErr returns err unchanged when its text holds no sensitive value (in any form
// RedactSecrets removes), else a plain error with the redacted text: the chain is dropped
// rather than let an unwrapped cause leak the value.
func RedactSecretsErr(err error, sensitive ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, v := range sensitive {
		for _, f := range secretForms(v) {
			if strings.Contains(msg, f) {
				return errors.New(RedactSecrets(msg, sensitive...))
			}
		}
	}
	return err
}
