package seed

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNameDeterministic(t *testing.T) {
	a := rand.New(rand.NewPCG(2019, 7))
	b := rand.New(rand.NewPCG(2019, 7))
	for i := range 1000 {
		male := i%2 == 0
		if x, y := Name(a, male), Name(b, male); x != y {
			t.Fatalf("draw %d: %q != %q with the same seed", i, x, y)
		}
	}
}

func TestNameShape(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	known := map[string]bool{}
	for _, s := range surnames {
		known[s.name] = true
	}
	for i := range 5000 {
		male := i%2 == 0
		name := Name(r, male)
		if n := utf8.RuneCountInString(name); n < 2 || n > 3 {
			t.Fatalf("%q has %d runes, want 2-3", name, n)
		}
		for _, c := range name {
			if !unicode.Is(unicode.Han, c) {
				t.Fatalf("%q contains non-Han rune %q", name, c)
			}
		}
		runes := []rune(name)
		if !known[string(runes[0])] {
			t.Fatalf("%q does not start with a known surname", name)
		}
	}
}

func TestNameLists(t *testing.T) {
	if len(maleGiven) < 60 || len(femaleGiven) < 60 {
		t.Fatalf("given-name lists have %d male and %d female characters, want at least 60 each", len(maleGiven), len(femaleGiven))
	}
	inMale := map[rune]bool{}
	for _, c := range maleGiven {
		if inMale[c] {
			t.Errorf("male list repeats %q", c)
		}
		inMale[c] = true
	}
	inFemale := map[rune]bool{}
	for _, c := range femaleGiven {
		if inFemale[c] {
			t.Errorf("female list repeats %q", c)
		}
		if inMale[c] {
			t.Errorf("%q is in both lists", c)
		}
		inFemale[c] = true
	}
	seen := map[string]bool{}
	for _, s := range surnames {
		if s.weight <= 0 || utf8.RuneCountInString(s.name) != 1 || seen[s.name] {
			t.Errorf("bad surname entry %+v", s)
		}
		seen[s.name] = true
	}
}

func TestNameUsesSexLists(t *testing.T) {
	inMale := map[rune]bool{}
	for _, c := range maleGiven {
		inMale[c] = true
	}
	inFemale := map[rune]bool{}
	for _, c := range femaleGiven {
		inFemale[c] = true
	}
	r := rand.New(rand.NewPCG(3, 4))
	usedMale, usedFemale := map[rune]bool{}, map[rune]bool{}
	single, double := 0, 0
	for i := range 10000 {
		male := i%2 == 0
		given := []rune(Name(r, male))[1:]
		if len(given) == 1 {
			single++
		} else {
			double++
			if given[0] == given[1] {
				t.Errorf("given name %q repeats a character", string(given))
			}
		}
		for _, c := range given {
			switch {
			case male && inMale[c]:
				usedMale[c] = true
			case !male && inFemale[c]:
				usedFemale[c] = true
			default:
				t.Fatalf("male=%v given name %q uses %q from the wrong list", male, string(given), c)
			}
		}
	}
	if len(usedMale) != len(maleGiven) || len(usedFemale) != len(femaleGiven) {
		t.Errorf("used %d/%d male and %d/%d female characters", len(usedMale), len(maleGiven), len(usedFemale), len(femaleGiven))
	}
	if double <= single*3 {
		t.Errorf("%d two-character and %d one-character given names, want mostly two", double, single)
	}
}

func TestNameVariety(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	distinct := map[string]bool{}
	surnameCount := map[string]int{}
	for i := range 10000 {
		name := Name(r, i%2 == 0)
		distinct[name] = true
		surnameCount[string([]rune(name)[0])]++
	}
	if len(distinct) < 2000 {
		t.Errorf("%d distinct names in 10000 draws, want at least 2000", len(distinct))
	}
	// The weighting favours the surnames common in Nan'an.
	if surnameCount["陈"] <= surnameCount["王"] || surnameCount["黄"] <= surnameCount["徐"] {
		t.Errorf("surname weighting looks wrong: %v", surnameCount)
	}
	if testing.Verbose() {
		var sample []string
		for name := range distinct {
			if len(sample) == 12 {
				break
			}
			sample = append(sample, name)
		}
		t.Log(strings.Join(sample, " "))
	}
}
