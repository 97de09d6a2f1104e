package pii

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestDecodeKeyPadding: at most two '=' and only to a multiple of four characters; a key with
// too much padding is refused for its padding even when the rest would decode.
func TestDecodeKeyPadding(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	std := base64.StdEncoding.EncodeToString(raw) // 43 characters and one '='
	bare := strings.TrimRight(std, "=")
	for _, c := range []struct {
		name, in, want string
	}{
		{"one =", std, ""},
		{"none", bare, ""},
		{"two = past a multiple of four", bare + "==", "pii: key has invalid base64 padding"},
		{"five =, a multiple of four", bare + "=====", "pii: key has invalid base64 padding"},
		{"three =, a multiple of four", strings.Repeat("A", 41) + "===", "pii: key has invalid base64 padding"},
		{"eight =", std + "=======", "pii: key has invalid base64 padding"},
	} {
		got, err := DecodeKey(c.in)
		if c.want == "" {
			if err != nil || string(got) != string(raw) {
				t.Errorf("%s: %x, %v", c.name, got, err)
			}
			continue
		}
		if err == nil || err.Error() != c.want {
			t.Errorf("%s (%d characters): err = %v, want %q", c.name, len(c.in), err, c.want)
		}
	}
}
