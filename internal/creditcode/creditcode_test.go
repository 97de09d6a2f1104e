package creditcode

import (
	"errors"
	"strings"
	"testing"
)

// Published codes of two well-known companies (from their business licences), checked against
// the standard's arithmetic independently of Generate.
var published = []string{
	"914403001922038216", // 华为技术有限公司
	"91330100799655058B", // 阿里巴巴（中国）有限公司
}

func TestPublishedCodesAreValid(t *testing.T) {
	for _, c := range published {
		if got, err := Parse(c); err != nil || got != c {
			t.Errorf("Parse(%s) = %q, %v", c, got, err)
		}
	}
}

func TestWeightsAreThePowersOfThreeModThirtyOne(t *testing.T) {
	want := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	if weights != want {
		t.Fatalf("weights %v, want %v", weights, want)
	}
}

// TestCheckCharByHand works the 18th character of a synthetic code out by hand.
func TestCheckCharByHand(t *testing.T) {
	// 9 1 3 5 0 5 8 3 M A 2 Y 0 0 0 1 ? : body MA2Y0001 → org check
	body := "MA2Y0001"
	// GB 11714: M=22 A=10 2 Y=34 0 0 0 1; Σ = 22·3+10·7+2·9+34·10+0+0+0+1·2 = 66+70+18+340+2 = 496
	// 496 mod 11 = 1 → 11-1 = 10 → 'X'
	if c, ok := OrgCheckChar(body); !ok || c != 'X' {
		t.Fatalf("org check %q %v, want X", c, ok)
	}
	first := "91350583" + body + "X"
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, first[i]) * weights[i]
	}
	want := alphabet[(31-sum%31)%31]
	if c, ok := CheckChar(first); !ok || c != want {
		t.Fatalf("check char %q, want %q", c, want)
	}
	if got := Generate("91", "350583", body); got != first+string(want) {
		t.Fatalf("Generate = %s", got)
	}
}

func TestSyntheticCodesOfEveryAuthority(t *testing.T) {
	for auth, ks := range kinds {
		for _, k := range ks {
			c := Generate(string(auth)+string(k), "350583", "0A1B2C3D")
			if !Valid(c) {
				t.Errorf("%s not valid", c)
			}
		}
	}
}

func TestLowerCaseAndSpacesAreNormalised(t *testing.T) {
	c := Generate("91", "350583", "MA2Y0001")
	got, err := Parse("  " + strings.ToLower(c) + "\u3000")
	if err != nil || got != c {
		t.Fatalf("Parse(lower) = %q, %v", got, err)
	}
}

func TestRefusals(t *testing.T) {
	good := Generate("91", "350583", "MA2Y0001")
	// withCheck recomputes both check characters so that only the intended rule breaks.
	withChecks := func(first16 string) string {
		oc, _ := OrgCheckChar(first16[8:16])
		c, _ := CheckChar(first16 + string(oc))
		return first16 + string(oc) + string(c)
	}
	swap := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	wrongCheck := alphabet[(strings.IndexByte(alphabet, good[17])+1)%31]
	wrongOrg := byte('0')
	if good[16] == '0' {
		wrongOrg = '1'
	}
	for _, tc := range []struct {
		name string
		in   string
		want Reason
	}{
		{"empty", "", ReasonEmpty},
		{"spaces", "   ", ReasonEmpty},
		{"short", good[:17], ReasonLength},
		{"long", good + "1", ReasonLength},
		{"huge", strings.Repeat("9", 1000), ReasonLength},
		{"letter I", swap(good, 10, 'I'), ReasonCharacter},
		{"letter O", swap(good, 10, 'O'), ReasonCharacter},
		{"letter Z", swap(good, 10, 'Z'), ReasonCharacter},
		{"letter S", swap(good, 10, 'S'), ReasonCharacter},
		{"letter V", swap(good, 10, 'V'), ReasonCharacter},
		{"symbol", swap(good, 3, '-'), ReasonCharacter},
		{"inner space", swap(good, 9, ' '), ReasonCharacter},
		{"full-width digit", "９" + good[1:], ReasonCharacter},
		{"authority", withChecks("B1350583MA2Y0001"), ReasonAuthority},
		{"authority 0", withChecks("01350583MA2Y0001"), ReasonAuthority},
		{"kind of 工商", withChecks("94350583MA2Y0001"), ReasonKind},
		{"kind of 其他", withChecks("Y2350583MA2Y0001"), ReasonKind},
		{"region letter", withChecks("9135058AMA2Y0001"), ReasonRegion},
		{"region province", withChecks("91990583MA2Y0001"), ReasonRegion},
		{"region 10 not nationwide", withChecks("91101234MA2Y0001"), ReasonRegion},
		{"org check", func() string {
			f := good[:16] + string(wrongOrg)
			c, _ := CheckChar(f)
			return f + string(c)
		}(), ReasonOrgCheck},
		{"check char", good[:17] + string(wrongCheck), ReasonCheckChar},
		{"published, one digit changed", swap(published[0], 12, '9'), ReasonOrgCheck},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			var e *Error
			if !errors.As(err, &e) || e.Reason != tc.want {
				t.Fatalf("Parse(%q) = %v, want %s", tc.in, err, tc.want)
			}
			if e.Message() == "" || strings.Contains(e.Error(), tc.in) && tc.in != "" {
				t.Fatalf("messages: %q / %q", e.Message(), e.Error())
			}
			if Valid(tc.in) {
				t.Fatal("Valid says yes")
			}
		})
	}
}

// TestEverySingleCharacterChangeIsCaught: the two check characters together catch every change
// of one character to another symbol of the alphabet.
func TestEverySingleCharacterChangeIsCaught(t *testing.T) {
	good := Generate("91", "350583", "MA2Y0001")
	for i := 0; i < Len; i++ {
		for j := 0; j < len(alphabet); j++ {
			if alphabet[j] == good[i] {
				continue
			}
			b := []byte(good)
			b[i] = alphabet[j]
			if Valid(string(b)) {
				t.Errorf("position %d changed to %c still valid", i+1, alphabet[j])
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range append(published, Generate("91", "350583", "MA2Y0001"), "", "9135058", strings.Repeat("Z", 18)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message() == "" {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
			return
		}
		if len(got) != Len || got != strings.ToUpper(got) {
			t.Fatalf("Parse(%q) = %q", s, got)
		}
		// Canonical output parses to itself, and its check characters are the computed ones.
		if again, err := Parse(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
		}
		oc, _ := OrgCheckChar(got[8:16])
		c, _ := CheckChar(got[:17])
		if got[16] != oc || got[17] != c {
			t.Fatalf("%q accepted with wrong check characters", got)
		}
	})
}
