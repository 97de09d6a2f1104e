package audit_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/dbtest"
)

func TestTruncateCutsWholeCharacters(t *testing.T) {
	long := strings.Repeat("参保", 300) // 600 characters, 1800 bytes
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"", 500, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"参保登记", 2, "参保"},
		{"a参保", 2, "a参"},
		{long, 500, long[:1500]},
		{"reason=" + long, 500, "reason=" + long[:3*493]},
		{"bad\xff\xfebytes", 20, "bad\uFFFDbytes"},
	}
	for _, c := range cases {
		got := audit.Truncate(c.in, c.max)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%.20q…, %d) = %.20q… (%d characters), want %d characters", c.in, c.max, got,
				utf8.RuneCountInString(got), utf8.RuneCountInString(c.want))
		}
	}
}

// A detail longer than the column, in Chinese, is stored cut at a character: the row is
// written, not refused.
func TestRecordStoresALongChineseDetail(t *testing.T) {
	db := dbtest.New(t)
	l := audit.New(db)
	for _, prefix := range []string{"", "a", "ab", "opted_out=true reason="} {
		detail := prefix + strings.Repeat("全民参保", 200)
		if err := l.Record(context.Background(), audit.System("test").Event("test.long", "x", 1, audit.Success, detail)); err != nil {
			t.Fatalf("prefix %q: %v", prefix, err)
		}
		var got string
		if err := db.Get(&got, `SELECT detail FROM audit_log ORDER BY id DESC LIMIT 1`); err != nil {
			t.Fatal(err)
		}
		if want := audit.Truncate(detail, 500); got != want || utf8.RuneCountInString(got) != 500 {
			t.Errorf("prefix %q: stored %d characters, want the first 500", prefix, utf8.RuneCountInString(got))
		}
	}
}
