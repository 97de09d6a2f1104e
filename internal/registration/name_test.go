package registration

import (
	"testing"

	"github.com/canbao/canbao/internal/person"
)

func TestSameName(t *testing.T) {
	cases := []struct {
		roster, submitted string
		same              bool
	}{
		{"林晓燕", "林晓燕", true},
		{"林晓燕", " 林\u3000晓 燕 ", true},     // ideographic and ASCII spaces
		{"林晓燕", "林\t晓燕", true},            // any whitespace
		{"阿依古丽·买买提", "阿依古丽•买买提", true},    // middle-dot variants
		{"阿依古丽·买买提", "阿依古丽・买买提", true},    // katakana middle dot
		{"阿依古丽·买买提", "阿依古丽．买买提", true},    // full-width full stop
		{"阿依古丽·买买提", "阿依古丽 买买提", true},    // dot written as a space
		{"ANNA LI", "ＡＮＮＡ\u3000ＬＩ", true}, // full-width Latin
		{"林晓燕", "林晓", false},
		{"林晓燕", "冒名", false},
		{"林晓燕", "", false},
		{"", "", false}, // nothing to compare is never a match
	}
	for _, c := range cases {
		if got := sameName(c.roster, c.submitted); got != c.same {
			t.Errorf("sameName(%q, %q) = %v, want %v", c.roster, c.submitted, got, c.same)
		}
	}
}

func TestValidNameAcceptsFullWidthForms(t *testing.T) {
	for _, s := range []string{"林\u3000晓燕", "ＡＮＮＡ　ＬＩ", "阿依古丽・买买提", "阿依古丽．买买提"} {
		if !person.ValidName(foldName(s)) {
			t.Errorf("person.ValidName(foldName(%q)) = false", s)
		}
	}
	for _, s := range []string{"林１", "林＃"} {
		if person.ValidName(foldName(s)) {
			t.Errorf("person.ValidName(foldName(%q)) = true", s)
		}
	}
}
