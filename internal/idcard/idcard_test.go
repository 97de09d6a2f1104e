package idcard

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testToday is 2025-06-15 10:00 in Shanghai.
var testToday = time.Date(2025, 6, 15, 2, 0, 0, 0, time.UTC)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestCheckCharKnown(t *testing.T) {
	cases := map[string]byte{
		"11010519491231002": 'X', // GB 11643-1999 example
		"44052418800101001": '4', // GB 11643-1999 example
		"11010119900307803": 'X',
		"44030619881112513": '4',
	}
	for in, want := range cases {
		got, err := CheckChar(in)
		if err != nil || got != want {
			t.Errorf("CheckChar(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1101051949123100", "110105194912310021", "1101051949123100a"} {
		if _, err := CheckChar(bad); err == nil {
			t.Errorf("CheckChar(%q): want error", bad)
		}
	}
}

func TestParse(t *testing.T) {
	genM := Generate("350583", date(1990, 1, 1), 123, Male)
	genF := Generate("110105", date(2000, 2, 29), 7, Female)
	leapBaby := Generate("320102", date(2024, 2, 29), 42, Female)
	bornToday := Generate("330102", date(2025, 6, 15), 1, Male)
	tomorrow := Generate("330102", date(2025, 6, 16), 1, Male)
	badCheck := []byte(genM)
	if badCheck[17] == 'X' {
		badCheck[17] = '0'
	} else {
		badCheck[17] = 'X'
	}

	valid := []struct {
		name, in, num string
		birth         time.Time
		g             Gender
	}{
		{"standard example X", "11010519491231002X", "11010519491231002X", date(1949, 12, 31), Female},
		{"hand computed", "11010119900307803X", "11010119900307803X", date(1990, 3, 7), Male},
		{"hand computed 2", "440306198811125134", "440306198811125134", date(1988, 11, 12), Male},
		{"lower-case x", "11010519491231002x", "11010519491231002X", date(1949, 12, 31), Female},
		{"surrounding spaces", " \t11010519491231002X \n", "11010519491231002X", date(1949, 12, 31), Female},
		{"15-digit upgrade", "110105491231002", "11010519491231002X", date(1949, 12, 31), Female},
		{"15-digit with spaces", " 110105491231002 ", "11010519491231002X", date(1949, 12, 31), Female},
		{"generated male", genM, genM, date(1990, 1, 1), Male},
		{"generated female Feb 29 2000", genF, genF, date(2000, 2, 29), Female},
		{"Feb 29 2024 leap", leapBaby, leapBaby, date(2024, 2, 29), Female},
		{"born today", bornToday, bornToday, date(2025, 6, 15), Male},
		{"earliest date", Generate("110105", date(1900, 1, 1), 5, Male), "", date(1900, 1, 1), Male},
		{"Taiwan 71", Generate("710000", date(1980, 5, 5), 5, Female), "", date(1980, 5, 5), Female},
		{"Hong Kong 81", Generate("810000", date(1980, 5, 5), 5, Male), "", date(1980, 5, 5), Male},
		{"Macao 82", Generate("820000", date(1980, 5, 5), 5, Male), "", date(1980, 5, 5), Male},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Parse(tc.in, testToday)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.num
			if want == "" {
				want = strings.TrimSpace(tc.in)
			}
			if id.Number != want || id.Area != want[:6] || !id.Birth.Equal(tc.birth) || id.Gender != tc.g {
				t.Fatalf("Parse = %+v; want %s %v %s", id, want, tc.birth, tc.g)
			}
			if id.Birth.Location() != time.UTC {
				t.Fatalf("Birth not UTC: %v", id.Birth)
			}
		})
	}

	invalid := []struct {
		name, in string
		reason   Reason
	}{
		{"empty", "", ReasonEmpty},
		{"spaces only", "   \t ", ReasonEmpty},
		{"too short", "1101051949123100", ReasonLength},
		{"17 chars", "11010519491231002", ReasonLength},
		{"19 chars", "11010519491231002X1", ReasonLength},
		{"very long", strings.Repeat("1", 10000), ReasonLength},
		{"33 bytes", strings.Repeat(" ", 15) + "11010519491231002X", ReasonLength},
		{"X in middle", "1101051949123X002X", ReasonFormat},
		{"letter last", "11010519491231002Y", ReasonFormat},
		{"15 with X", "11010549123100X", ReasonFormat},
		{"garbage 18", "abcdefghijklmnopqr", ReasonFormat},
		{"inner space", "110105 9491231002X", ReasonFormat},
		{"unicode 18 bytes", "身份证号码是", ReasonFormat},
		{"fullwidth digits", "１１０１０５", ReasonFormat},
		{"invalid utf8", "\xff\xfe1051949123100\xff\xfe\xfd", ReasonFormat},
		{"unicode short", "张三", ReasonLength},
		{"province 00", "000000199001011234", ReasonArea},
		{"province 16", Generate("160000", date(1990, 1, 1), 1, Male), ReasonArea},
		{"province 99", Generate("990000", date(1990, 1, 1), 1, Male), ReasonArea},
		{"province 83", Generate("830000", date(1990, 1, 1), 1, Male), ReasonArea},
		{"Feb 30", "110105199002300011", ReasonBirthDate},
		{"Feb 29 non-leap 1990", "110105199002290011", ReasonBirthDate},
		{"Feb 29 1900 not leap", "110105190002290011", ReasonBirthDate},
		{"month 13", "110105199013010011", ReasonBirthDate},
		{"month 00", "110105199000010011", ReasonBirthDate},
		{"day 00", "110105199001000011", ReasonBirthDate},
		{"day 32", "110105199001320011", ReasonBirthDate},
		{"before 1900 (GB example)", "440524188001010014", ReasonBirthDate},
		{"1899-12-31", Generate("110105", date(1899, 12, 31), 1, Male), ReasonBirthDate},
		{"15-digit bad date", "110105490230002", ReasonBirthDate},
		{"tomorrow", tomorrow, ReasonFutureBirth},
		{"far future", Generate("110105", date(2099, 1, 1), 1, Male), ReasonFutureBirth},
		{"bad check", string(badCheck), ReasonChecksum},
		{"bad check example", "110105194912310021", ReasonChecksum},
		{"bad check lower x", "11010119900307803x"[:17] + "1", ReasonChecksum},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in, testToday)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) err = %v; want *Error", tc.in, err)
			}
			if e.Reason != tc.reason {
				t.Fatalf("reason = %q; want %q", e.Reason, tc.reason)
			}
			if e.Message() == "" || e.Message() == (&Error{}).Message() {
				t.Fatalf("no specific Chinese message for %q", e.Reason)
			}
			if in := strings.TrimSpace(tc.in); in != "" && strings.Contains(err.Error(), in) {
				t.Fatalf("Error() leaks input: %q", err.Error())
			}
		})
	}
}

func TestMessages(t *testing.T) {
	want := map[Reason]string{
		ReasonChecksum:  "身份证号码校验位不正确",
		ReasonLength:    "身份证号码应为18位",
		ReasonBirthDate: "身份证号码中的出生日期无效",
	}
	for r, msg := range want {
		if got := (&Error{Reason: r}).Message(); got != msg {
			t.Errorf("Message(%s) = %q; want %q", r, got, msg)
		}
	}
	seen := map[string]Reason{}
	for _, r := range []Reason{ReasonEmpty, ReasonLength, ReasonFormat, ReasonArea, ReasonBirthDate, ReasonFutureBirth, ReasonChecksum} {
		e := &Error{Reason: r}
		if prev, dup := seen[e.Message()]; dup {
			t.Errorf("reasons %s and %s share a message", prev, r)
		}
		seen[e.Message()] = r
		if strings.ContainsAny(e.Error(), "0123456789") {
			t.Errorf("Error() for %s contains digits: %q", r, e.Error())
		}
	}
}

func TestGenerate(t *testing.T) {
	for seq := -250; seq < 1200; seq += 7 {
		for _, g := range []Gender{Male, Female} {
			n := Generate("350583", date(1975, 8, 9), seq, g)
			id, err := Parse(n, testToday)
			if err != nil {
				t.Fatalf("Generate(%d,%s) = %s: %v", seq, g, n, err)
			}
			if id.Gender != g {
				t.Fatalf("Generate(%d,%s) gender = %s", seq, g, id.Gender)
			}
			if want := ((seq % 100) + 100) % 100; atoi(n[14:16]) != want {
				t.Fatalf("seq digits %s; want %02d", n[14:16], want)
			}
		}
	}
	if a, b := Generate("350583", date(1975, 8, 9), 1, Male), Generate("350583", date(1975, 8, 9), 101, Male); a == b {
		t.Errorf("seq 1 and 101 should differ in the gender digit: %s", a)
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Generate(%q) did not panic", bad)
				}
			}()
			Generate(bad, date(1990, 1, 1), 1, Male)
		}()
	}
}

func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	return loc
}

// Parse reads today in its own location: the birth date may be today's date there.
func TestParseReadsTodayInItsOwnZone(t *testing.T) {
	ny := loadZone(t, "America/New_York")
	n := Generate("350583", date(2025, 6, 15), 7, Female)
	// 20:00 on 14 June in New York is 15 June in Shanghai, but not yet in New York.
	if _, err := Parse(n, time.Date(2025, 6, 14, 20, 0, 0, 0, ny)); !isReason(err, ReasonFutureBirth) {
		t.Errorf("born 15 June, on 14 June 20:00 New York: err = %v, want future birth", err)
	}
	if _, err := Parse(n, time.Date(2025, 6, 15, 0, 0, 0, 0, ny)); err != nil {
		t.Errorf("born 15 June, on 15 June New York: %v", err)
	}
	if _, err := Parse(n, date(2025, 6, 14)); !isReason(err, ReasonFutureBirth) {
		t.Errorf("born 15 June, on the civil date 14 June: err = %v, want future birth", err)
	}
}

func isReason(err error, r Reason) bool {
	var e *Error
	return errors.As(err, &e) && e.Reason == r
}

func TestAgeOn(t *testing.T) {
	sh := loadZone(t, "Asia/Shanghai")
	on := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, sh) }
	birth := date(1970, 7, 1)
	var cases []struct {
		on   time.Time
		want int
	}
	for _, n := range []int{16, 40, 45, 60} {
		y := 1970 + n
		cases = append(cases,
			struct {
				on   time.Time
				want int
			}{on(y, 6, 30), n - 1},
			struct {
				on   time.Time
				want int
			}{on(y, 7, 1), n},
			struct {
				on   time.Time
				want int
			}{on(y, 7, 2), n},
		)
	}
	for _, c := range cases {
		if got := AgeOn(birth, c.on); got != c.want {
			t.Errorf("AgeOn(1970-07-01, %s) = %d; want %d", c.on.Format("2006-01-02"), got, c.want)
		}
	}

	// Birthday on Jan 1 / Dec 31 boundaries.
	if got := AgeOn(date(1965, 1, 1), on(2025, 1, 1)); got != 60 {
		t.Errorf("Jan 1 60th birthday: %d", got)
	}
	if got := AgeOn(date(1965, 1, 1), on(2024, 12, 31)); got != 59 {
		t.Errorf("day before Jan 1 60th birthday: %d", got)
	}

	// on is read as a civil date in its own location (the caller's business zone), never in a
	// zone of idcard's choosing: 20:00 on 30 June in New York is already 1 July in Shanghai.
	for _, c := range []struct {
		zone string
		on   time.Time
		want int
	}{
		{"America/New_York", time.Date(2030, 6, 30, 20, 0, 0, 0, loadZone(t, "America/New_York")), 59},
		{"America/New_York", time.Date(2030, 7, 1, 0, 0, 0, 0, loadZone(t, "America/New_York")), 60},
		{"Asia/Shanghai", time.Date(2030, 7, 1, 0, 30, 0, 0, sh), 60},
		{"Asia/Shanghai", time.Date(2030, 6, 30, 23, 59, 0, 0, sh), 59},
		{"UTC", time.Date(2030, 6, 30, 16, 0, 0, 0, time.UTC), 59},
		{"UTC", date(2030, 7, 1), 60},
	} {
		if got := AgeOn(birth, c.on); got != c.want {
			t.Errorf("AgeOn(1970-07-01, %s in %s) = %d; want %d", c.on.Format(time.DateTime), c.zone, got, c.want)
		}
	}

	// Feb 29: a year older on Mar 1 of non-leap years, on Feb 29 of leap years.
	leap := date(2008, 2, 29)
	feb29 := []struct {
		on   time.Time
		want int
	}{
		{on(2024, 2, 28), 15}, {on(2024, 2, 29), 16}, {on(2024, 3, 1), 16}, // leap year 16th
		{on(2025, 2, 28), 16}, {on(2025, 3, 1), 17}, // non-leap
		{on(2048, 2, 28), 39}, {on(2048, 2, 29), 40}, // leap 40th
		{on(2053, 2, 28), 44}, {on(2053, 3, 1), 45}, // non-leap 45th
		{on(2068, 2, 28), 59}, {on(2068, 2, 29), 60}, {on(2068, 3, 1), 60},
		{on(2100, 2, 28), 91}, {on(2100, 3, 1), 92}, // 2100 is not a leap year
	}
	for _, c := range feb29 {
		if got := AgeOn(leap, c.on); got != c.want {
			t.Errorf("AgeOn(2008-02-29, %s) = %d; want %d", c.on.Format("2006-01-02"), got, c.want)
		}
	}

	if got := AgeOn(birth, on(1970, 7, 1)); got != 0 {
		t.Errorf("born today: %d", got)
	}
	if got := AgeOn(birth, on(1960, 1, 1)); got != 0 {
		t.Errorf("before birth: %d; want 0", got)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"11010519491231002X", "11010519491231002x", "110105491231002", "440524188001010014",
		"11010119900307803X", " 440306198811125134 ", "", "   ", "110105199002300011",
		"000000199001011234", "110105194912310021", "身份证号码是", "\xff\xfe\xfd",
		strings.Repeat("9", 40), "11010520990101001X", "1101051949123X002X",
		Generate("320102", date(2024, 2, 29), 42, Female),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s, testToday)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *Error", err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "0123456789") {
				t.Fatalf("Error() contains digits: %q", msg)
			}
			if trimmed := strings.TrimSpace(s); len(trimmed) >= 6 && strings.Contains(msg, trimmed) {
				t.Fatalf("Error() contains the input: %q", msg)
			}
			if e.Message() == "" {
				t.Fatal("empty Message()")
			}
			return
		}
		if len(id.Number) != 18 {
			t.Fatalf("Number %q is not 18 chars", id.Number)
		}
		c, cerr := CheckChar(id.Number[:17])
		if cerr != nil || c != id.Number[17] {
			t.Fatalf("CheckChar(%q) = %q, %v", id.Number[:17], c, cerr)
		}
		again, err := Parse(id.Number, testToday)
		if err != nil {
			t.Fatalf("re-parse %q: %v", id.Number, err)
		}
		if again != id {
			t.Fatalf("re-parse differs: %+v vs %+v", again, id)
		}
		if id.Birth.Before(date(1900, 1, 1)) || id.Birth.After(date(2025, 6, 15)) {
			t.Fatalf("birth out of range: %v", id.Birth)
		}
	})
}
