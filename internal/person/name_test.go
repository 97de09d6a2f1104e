package person

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, s := range []string{"林晓燕", "阿依古丽·买买提", "ANNA LI", "A", strings.Repeat("林", NameMaxLen), "Zoë", "e\u0301"} {
		if !ValidName(s) {
			t.Errorf("ValidName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "林1", "林#", "林\t晓", strings.Repeat("林", NameMaxLen+1), "林\xff", "<b>"} {
		if ValidName(s) {
			t.Errorf("ValidName(%q) = true", s)
		}
	}
}
