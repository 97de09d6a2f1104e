package pii

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeyring(t testing.TB, active string, masters map[string][]byte, index string) *Keyring {
	t.Helper()
	k, err := NewKeyring(active, masters, index)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

const aadID = "resident.id_number"

func TestEncryptRoundTrip(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": key(1)}, "k1")
	for _, pt := range []string{"", "11010519491231002X", "张三", strings.Repeat("长", 1000)} {
		ct, id, err := k.Encrypt(pt, aadID)
		if err != nil || id != "k1" {
			t.Fatalf("Encrypt: %v id=%q", err, id)
		}
		if len(ct) != 12+len(pt)+16 {
			t.Fatalf("ciphertext length %d; want %d", len(ct), 12+len(pt)+16)
		}
		if pt != "" && bytes.Contains(ct, []byte(pt)) {
			t.Fatal("ciphertext contains plaintext")
		}
		got, err := k.Decrypt(ct, id, aadID)
		if err != nil || got != pt {
			t.Fatalf("Decrypt = %q, %v; want %q", got, err, pt)
		}
	}
	a, _, _ := k.Encrypt("same", aadID)
	b, _, _ := k.Encrypt("same", aadID)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are identical (nonce reuse?)")
	}
	if k.ActiveKeyID() != "k1" {
		t.Fatalf("ActiveKeyID = %q", k.ActiveKeyID())
	}
}

func TestDecryptFailures(t *testing.T) {
	k := mustKeyring(t, "k1", map[string][]byte{"k1": key(1), "k2": key(2)}, "k1")
	ct, id, err := k.Encrypt("13812345678", "resident.phone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Decrypt(ct, id, aadID); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong aad: err = %v; want ErrDecrypt", err)
	}
	if _, err := k.Decrypt(ct, "k2", "resident.phone"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key: err = %v; want ErrDecrypt", err)
	}
	if _, err := k.Decrypt(ct, "k9", "resident.phone"); !errors.Is(err, ErrUnknownKeyID) {
		t.Errorf("unknown key: err = %v; want ErrUnknownKeyID", err)
	}
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := k.Decrypt(bad, id, "resident.phone"); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("tampered byte %d: err = %v", i, err)
		}
	}
	for _, short := range [][]byte{nil, {}, ct[:27], ct[:len(ct)-1]} {
		if _, err := k.Decrypt(short, id, "resident.phone"); !errors.Is(err, ErrDecrypt) {
			t.Errorf("short ciphertext (%d): err = %v", len(short), err)
		}
	}
	if _, err := k.Decrypt(append(bytes.Clone(ct), 0), id, "resident.phone"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("appended byte: err = %v", err)
	}
	if _, err := k.Decrypt(ct, id, "resident.phone"); err != nil {
		t.Errorf("original still decrypts: %v", err)
	}
}

func TestRotation(t *testing.T) {
	k1 := mustKeyring(t, "k1", map[string][]byte{"k1": key(1)}, "k1")
	old, oldID, err := k1.Encrypt("11010519491231002X", aadID)
	if err != nil {
		t.Fatal(err)
	}
	idx1 := k1.BlindIndex("id_number", "11010519491231002X")

	k2 := mustKeyring(t, "k2", map[string][]byte{"k1": key(1), "k2": key(2)}, "k1")
	if got, err := k2.Decrypt(old, oldID, aadID); err != nil || got != "11010519491231002X" {
		t.Fatalf("old ciphertext after rotation: %q, %v", got, err)
	}
	fresh, freshID, err := k2.Encrypt("11010519491231002X", aadID)
	if err != nil || freshID != "k2" {
		t.Fatalf("Encrypt after rotation: %v id=%q", err, freshID)
	}
	if got, err := k2.Decrypt(fresh, freshID, aadID); err != nil || got != "11010519491231002X" {
		t.Fatalf("new ciphertext: %q, %v", got, err)
	}
	if _, err := k1.Decrypt(fresh, freshID, aadID); !errors.Is(err, ErrUnknownKeyID) {
		t.Fatalf("old keyring must not know k2: %v", err)
	}
	if idx2 := k2.BlindIndex("id_number", "11010519491231002X"); !bytes.Equal(idx1, idx2) {
		t.Fatal("blind index changed across rotation with the same indexKeyID")
	}
	k3 := mustKeyring(t, "k2", map[string][]byte{"k1": key(1), "k2": key(2)}, "k2")
	if bytes.Equal(idx1, k3.BlindIndex("id_number", "11010519491231002X")) {
		t.Fatal("blind index should depend on the index key")
	}
}

func TestBlindIndex(t *testing.T) {
	k := mustKeyring(t, "a", map[string][]byte{"a": key(7)}, "a")
	other := mustKeyring(t, "a", map[string][]byte{"a": key(8)}, "a")
	x := k.BlindIndex("id_number", "11010519491231002X")
	if len(x) != 32 {
		t.Fatalf("len = %d", len(x))
	}
	if !bytes.Equal(x, k.BlindIndex("id_number", "11010519491231002X")) {
		t.Fatal("not deterministic")
	}
	if bytes.Equal(x, k.BlindIndex("phone", "11010519491231002X")) {
		t.Fatal("same index for different kinds")
	}
	if bytes.Equal(x, k.BlindIndex("id_number", "11010519491231002x")) {
		t.Fatal("same index for different values")
	}
	if bytes.Equal(x, other.BlindIndex("id_number", "11010519491231002X")) {
		t.Fatal("same index for different keys")
	}
	// The 0x00 separator keeps (kind, value) pairs unambiguous.
	if bytes.Equal(k.BlindIndex("ab", "c"), k.BlindIndex("a", "bc")) {
		t.Fatal("kind/value boundary is ambiguous")
	}
}

func TestNewKeyringErrors(t *testing.T) {
	cases := []struct {
		name    string
		active  string
		masters map[string][]byte
		index   string
		want    string
	}{
		{"no keys", "k1", nil, "k1", "no master keys"},
		{"missing active", "k9", map[string][]byte{"k1": key(1)}, "k1", `active key id "k9"`},
		{"missing index", "k1", map[string][]byte{"k1": key(1)}, "k9", `blind-index key id "k9"`},
		{"16-byte key", "k1", map[string][]byte{"k1": make([]byte, 16)}, "k1", `"k1" is 16 bytes, want exactly 32`},
		{"33-byte key", "k1", map[string][]byte{"k1": make([]byte, 33)}, "k1", "is 33 bytes"},
		{"bad non-active key", "k1", map[string][]byte{"k1": key(1), "old": make([]byte, 24)}, "k1", `"old" is 24 bytes`},
		{"empty key", "k1", map[string][]byte{"k1": nil}, "k1", "is 0 bytes"},
		{"empty id", "", map[string][]byte{"": key(1)}, "", "must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewKeyring(tc.active, tc.masters, tc.index)
			if err == nil || k != nil {
				t.Fatalf("want error, got keyring")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestDecodeKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i*37 + 250) // includes bytes that encode to +/ and -_
	}
	for name, s := range map[string]string{
		"std":            base64.StdEncoding.EncodeToString(raw),
		"std raw":        base64.RawStdEncoding.EncodeToString(raw),
		"url":            base64.URLEncoding.EncodeToString(raw),
		"url raw":        base64.RawURLEncoding.EncodeToString(raw),
		"with spaces/nl": "  " + base64.StdEncoding.EncodeToString(raw) + "\n",
	} {
		got, err := DecodeKey(s)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: DecodeKey(%q) = %x, %v", name, s, got, err)
		}
	}
	if s := base64.StdEncoding.EncodeToString(raw); !strings.ContainsAny(s, "+/") {
		t.Fatalf("test key should exercise the std alphabet: %s", s)
	}
	secret := base64.StdEncoding.EncodeToString(make([]byte, 16))
	for name, tc := range map[string]struct{ in, want string }{
		"empty":      {"", "empty"},
		"blank":      {"   ", "empty"},
		"16 bytes":   {secret, "decodes to 16 bytes, want exactly 32"},
		"33 bytes":   {base64.StdEncoding.EncodeToString(make([]byte, 33)), "decodes to 33 bytes"},
		"not base64": {"this is not base64!!", "not valid base64"},
		"hex":        {strings.Repeat("ab", 32) + "zz", "not valid base64"},
		"mixed":      {"ab+_" + base64.RawStdEncoding.EncodeToString(make([]byte, 29)), "not valid base64"},
		"bad pad":    {base64.RawStdEncoding.EncodeToString(raw) + "===", "padding"},
	} {
		_, err := DecodeKey(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want mention of %q", name, err, tc.want)
		}
		if err != nil && len(tc.in) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
			t.Errorf("%s: error leaks key material", name)
		}
	}
}

func TestMask(t *testing.T) {
	ids := map[string]string{
		"350583199001011234": "3505**********1234",
		"11010519491231002X": "1101**********002X",
		"110105491231002":    "1101*******1002",
		"":                   "",
		"1234":               "****",
		"12345678901":        "***********",
		"123456789012":       "1234****9012",
	}
	for in, want := range ids {
		if got := MaskID(in); got != want {
			t.Errorf("MaskID(%q) = %q; want %q", in, got, want)
		}
	}
	phones := map[string]string{
		"13812345678":    "138****5678",
		"+8613812345678": "+86*********78",
		"0591-87654321":  "059********21",
		"12345678":       "123***78",
		"1234567":        "*******",
		"":               "",
		"１３８１２３４５６７８":    "１３８****５６７８",
	}
	for in, want := range phones {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q; want %q", in, got, want)
		}
	}
	names := map[string]string{
		"张三":      "张*",
		"欧阳娜娜":    "欧**娜",
		"王小明":     "王*明",
		"李":       "*",
		"":        "",
		"Li Lei":  "L****i",
		"Al":      "A*",
		"阿卜杜·热合曼": "阿*****曼",
	}
	for in, want := range names {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"无个人信息", "无个人信息"},
		{"张三的身份证号是11010519491231002X，请核对。", "张三的身份证号是1101**********002X，请核对。"},
		{"id=11010519491231002x end", "id=1101**********002x end"},
		{"旧证110105491231002号", "旧证1101*******1002号"},
		{`{"name":"张三","phone":"13812345678","ok":true}`, `{"name":"张三","phone":"138****5678","ok":true}`},
		{"call 19912345678 or 13812345678.", "call 199****5678 or 138****5678."},
		{"abc13812345678def", "abc138****5678def"},
		{"trace 12345678901234567890 done", "trace 12345678901234567890 done"}, // 20-digit run
		{"ref 138123456789", "ref 138123456789"},                               // 12 digits: not a phone
		{"ref 913812345678", "ref 913812345678"},                               // phone inside longer run
		{"12812345678", "12812345678"},                                         // 1[3-9] required
		{"1234567890123456", "1234567890123456"},                               // 16 digits
		{"11010519491231002X13812345678", "1101**********002X138****5678"},
		{"13812345678\n11010519491231002X", "138****5678\n1101**********002X"},
		{"１３８１２３４５６７８", "１３８１２３４５６７８"}, // full-width digits are not recognised
	}
	for _, tc := range cases {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if ContainsPII(got) {
			t.Errorf("ContainsPII(Redact(%q)) = true", tc.in)
		}
	}
}

func TestContainsPII(t *testing.T) {
	yes := []string{
		"11010519491231002X", "x 11010519491231002x y", "110105491231002", "350583199001011234",
		"tel:13812345678", `{"p":"19912345678"}`, "13812345678X", "11010519491231002X9",
	}
	no := []string{
		"", "hello", "12345678901234567890", "138123456789", "1381234567", "3505**********1234",
		"138****5678", "12812345678", "1234567890123456", "11010519491231002Y1",
	}
	for _, s := range yes {
		if !ContainsPII(s) {
			t.Errorf("ContainsPII(%q) = false", s)
		}
		if _, _, k := nextToken(s, 0); k == tokNone {
			t.Errorf("nextToken(%q) found nothing", s)
		}
	}
	for _, s := range no {
		if ContainsPII(s) {
			t.Errorf("ContainsPII(%q) = true", s)
		}
		if _, _, k := nextToken(s, 0); k != tokNone {
			t.Errorf("nextToken(%q) found a token", s)
		}
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"", "张三的身份证号是11010519491231002X，电话13812345678。", `{"phone":"13812345678"}`,
		"12345678901234567890", "110105491231002", "11010519491231002X13812345678",
		"11010519491231002x9", "\xff13812345678\xfe", "138123456789", "1381234567813812345678",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if ContainsPII(r) {
			t.Fatalf("Redact(%q) = %q still contains PII", s, r)
		}
		_, _, k := nextToken(s, 0)
		if (k != tokNone) != ContainsPII(s) {
			t.Fatalf("scanner and patterns disagree on %q", s)
		}
		if (k == tokNone) != (r == s) {
			t.Fatalf("Redact changed text without PII or kept PII text: %q -> %q", s, r)
		}
		if len(r) != len(s) {
			t.Fatalf("Redact changed the byte length: %q -> %q", s, r)
		}
	})
}

func BenchmarkEncrypt(b *testing.B) {
	k := mustKeyring(b, "k1", map[string][]byte{"k1": key(1)}, "k1")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := k.Encrypt("11010519491231002X", aadID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	k := mustKeyring(b, "k1", map[string][]byte{"k1": key(1)}, "k1")
	b.ReportAllocs()
	for b.Loop() {
		k.BlindIndex("id_number", "11010519491231002X")
	}
}
