package pii

import (
	"errors"
	"strings"
	"testing"
)

// TestDecryptRowNamesTheRow: a row that will not open says which column, row and key it was,
// keeps the cause for errors.Is, and never carries the ciphertext; a good row opens as Decrypt.
func TestDecryptRowNamesTheRow(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": key(1)}, "k1")
	ct, id, err := k.Encrypt("350583199001011234", aadID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.DecryptRow(ct, id, aadID, 7); err != nil || got != "350583199001011234" {
		t.Fatalf("DecryptRow = %q, %v; want the plaintext", got, err)
	}
	for _, tc := range []struct {
		name, keyID, aad string
		ct               []byte
		is               error
		want             string
	}{
		{"wrong aad", id, "resident.phone", ct, ErrDecrypt, `decrypt resident.phone of row 42 with key id "k1": ` + ErrDecrypt.Error()},
		{"unknown key", "k9", aadID, ct, ErrUnknownKeyID, `decrypt resident.id_number of row 42 with key id "k9": pii: unknown key id "k9"`},
		{"too short", id, aadID, ct[:20], ErrDecrypt, `decrypt resident.id_number of row 42 with key id "k1": ` + ErrDecrypt.Error() + ": ciphertext too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.DecryptRow(tc.ct, tc.keyID, tc.aad, 42)
			if err == nil || got != "" {
				t.Fatalf("DecryptRow = %q, %v; want an error", got, err)
			}
			if !errors.Is(err, tc.is) || err.Error() != tc.want {
				t.Fatalf("error %q (is %v: %v); want %q", err, tc.is, errors.Is(err, tc.is), tc.want)
			}
			if strings.Contains(err.Error(), string(tc.ct)) {
				t.Fatal("error carries the ciphertext")
			}
		})
	}
}
