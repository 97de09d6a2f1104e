package idcard

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestProvinceCodes: the first two digits against GB/T 2260's province list, written out here
// on its own (not read from validProvince): each range's first and last code is accepted and
// the codes either side of it refused.
func TestProvinceCodes(t *testing.T) {
	provinces := map[int]string{
		11: "北京", 12: "天津", 13: "河北", 14: "山西", 15: "内蒙古",
		21: "辽宁", 22: "吉林", 23: "黑龙江",
		31: "上海", 32: "江苏", 33: "浙江", 34: "安徽", 35: "福建", 36: "江西", 37: "山东",
		41: "河南", 42: "湖北", 43: "湖南", 44: "广东", 45: "广西", 46: "海南",
		50: "重庆", 51: "四川", 52: "贵州", 53: "云南", 54: "西藏",
		61: "陕西", 62: "甘肃", 63: "青海", 64: "宁夏", 65: "新疆",
		71: "台湾", 81: "香港", 82: "澳门",
	}
	for code := 0; code <= 99; code++ {
		n := Generate(fmt.Sprintf("%02d0102", code), date(1990, 1, 1), 1, Male)
		_, err := Parse(n, testToday)
		if name, ok := provinces[code]; ok {
			if err != nil {
				t.Errorf("province %02d (%s): %v", code, name, err)
			}
		} else if !isReason(err, ReasonArea) {
			t.Errorf("code %02d: err = %v, want %s", code, err, ReasonArea)
		}
	}
	if len(provinces) != 34 {
		t.Fatalf("the table has %d entries, GB/T 2260 has 34 provincial divisions", len(provinces))
	}
}

// TestBirthDateEdges: leap days by the Gregorian rules (2000 divisible by 400, 1900 and 2100
// by 100 only, 2024 by 4), the last day of each month and the first day after it.
func TestBirthDateEdges(t *testing.T) {
	today := date(2200, 1, 1)
	monthDays := []int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m, last := range monthDays {
		for _, y := range []int{1999, 2000} {
			if y == 2000 && m == 1 {
				last = 29
			}
			ok := fmt.Sprintf("110105%04d%02d%02d001", y, m+1, last)
			ok += string(must(CheckChar(ok)))
			if id, err := Parse(ok, today); err != nil || !id.Birth.Equal(date(y, time.Month(m+1), last)) {
				t.Errorf("%d-%02d-%02d: %v %v", y, m+1, last, id.Birth, err)
			}
			bad := fmt.Sprintf("110105%04d%02d%02d001", y, m+1, last+1)
			bad += string(must(CheckChar(bad)))
			if _, err := Parse(bad, today); !isReason(err, ReasonBirthDate) {
				t.Errorf("%d-%02d-%02d: err = %v, want %s", y, m+1, last+1, err, ReasonBirthDate)
			}
		}
	}
	for _, c := range []struct {
		year int
		ok   bool
	}{{1900, false}, {1904, true}, {1996, true}, {2000, true}, {2023, false}, {2024, true}, {2100, false}, {2104, true}} {
		n := fmt.Sprintf("110105%04d0229001", c.year)
		n += string(must(CheckChar(n)))
		_, err := Parse(n, today)
		if c.ok && err != nil || !c.ok && !isReason(err, ReasonBirthDate) {
			t.Errorf("%d-02-29: err = %v, leap = %v", c.year, err, c.ok)
		}
	}
	for _, s := range []string{"00", "13", "99"} {
		n := "110105" + "1990" + s + "01" + "001"
		n += string(must(CheckChar(n)))
		if _, err := Parse(n, today); !isReason(err, ReasonBirthDate) {
			t.Errorf("month %s: err = %v", s, err)
		}
	}
	for _, s := range []string{"00", "32", "99"} {
		n := "110105" + "1990" + "01" + s + "001"
		n += string(must(CheckChar(n)))
		if _, err := Parse(n, today); !isReason(err, ReasonBirthDate) {
			t.Errorf("day %s: err = %v", s, err)
		}
	}
}

func must(c byte, err error) byte {
	if err != nil {
		panic(err)
	}
	return c
}

// TestInputLengthLimit: 32 bytes is the most Parse reads (an 18-character number with 14
// spaces round it is fine); 33 bytes is refused before trimming.
func TestInputLengthLimit(t *testing.T) {
	n := "11010519491231002X"
	in := strings.Repeat(" ", 7) + n + strings.Repeat(" ", 7)
	if len(in) != maxInputLen {
		t.Fatalf("len %d", len(in))
	}
	if id, err := Parse(in, testToday); err != nil || id.Number != n {
		t.Fatalf("32 bytes: %v %v", id, err)
	}
	if _, err := Parse(in+" ", testToday); !isReason(err, ReasonLength) {
		t.Fatalf("33 bytes: err = %v", err)
	}
}

// TestGenderDigit: the 17th digit's parity, every digit.
func TestGenderDigit(t *testing.T) {
	for d := byte('0'); d <= '9'; d++ {
		n := "1101051949123100" + string(d)
		n += string(must(CheckChar(n)))
		id, err := Parse(n, testToday)
		if err != nil {
			t.Fatal(err)
		}
		want := Female
		if d == '1' || d == '3' || d == '5' || d == '7' || d == '9' {
			want = Male
		}
		if id.Gender != want {
			t.Errorf("17th digit %c: %s", d, id.Gender)
		}
	}
}

// TestGenerateYearRange: years 0 to 9999 are written as four digits; outside, a panic.
func TestGenerateYearRange(t *testing.T) {
	for _, c := range []struct {
		year  int
		panic bool
		birth string
	}{{0, false, "00000101"}, {9999, false, "99991231"}, {-1, true, ""}, {10000, true, ""}} {
		func() {
			defer func() {
				if r := recover(); (r != nil) != c.panic {
					t.Errorf("year %d: panic %v", c.year, r)
				}
			}()
			d := time.Date(c.year, 1, 1, 0, 0, 0, 0, time.UTC)
			if c.year == 9999 {
				d = time.Date(c.year, 12, 31, 0, 0, 0, 0, time.UTC)
			}
			n := Generate("110105", d, 1, Female)
			if n[6:14] != c.birth || len(n) != 18 {
				t.Errorf("year %d: %s", c.year, n)
			}
		}()
	}
}

// TestAgeOnTheTwentyNinth: only a Feb 29 birthday moves to Mar 1, and only in common years;
// 2000 is a leap year (divisible by 400), so the birthday is Feb 29 there.
func TestAgeOnTheTwentyNinth(t *testing.T) {
	for _, c := range []struct {
		birth, on time.Time
		want      int
	}{
		{date(1990, 1, 29), date(2025, 1, 29), 35}, // the 29th of another month, common year
		{date(1990, 1, 29), date(2025, 1, 28), 34},
		{date(1990, 3, 29), date(2025, 3, 29), 35},
		{date(1990, 2, 28), date(2025, 2, 28), 35}, // Feb 28 stays Feb 28
		{date(1990, 2, 28), date(2025, 2, 27), 34},
		{date(1980, 2, 29), date(2000, 2, 29), 20}, // 2000 is leap: birthday on Feb 29
		{date(1980, 2, 29), date(2000, 2, 28), 19},
		{date(1980, 2, 29), date(2400, 2, 29), 420},
		{date(1980, 2, 29), date(2001, 2, 28), 20}, // common year: birthday on Mar 1
		{date(1980, 2, 29), date(2001, 3, 1), 21},
		{date(1896, 2, 29), date(1900, 2, 28), 3}, // 1900 is common
		{date(1896, 2, 29), date(1900, 3, 1), 4},
		{date(2000, 2, 29), date(2024, 2, 29), 24},
	} {
		if got := AgeOn(c.birth, c.on); got != c.want {
			t.Errorf("AgeOn(%s, %s) = %d, want %d", c.birth.Format(time.DateOnly), c.on.Format(time.DateOnly), got, c.want)
		}
	}
}

func TestGenerateRefusesAnUnknownGender(t *testing.T) {
	defer func() {
		if r := recover(); r != "idcard.Generate: unknown gender other" {
			t.Errorf("panic %v", r)
		}
	}()
	Generate("110105", date(1990, 1, 1), 1, Gender("other"))
}
