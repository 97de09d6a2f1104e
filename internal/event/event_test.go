package event

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/wechat"
	"github.com/canbao/canbao/internal/wechat/wechattest"
)

var shanghai = func() *time.Location { l, _ := time.LoadLocation("Asia/Shanghai"); return l }()

// TestPosterFontHasEveryFixedCharacter: the poster's own words, its digits and its time
// punctuation are all in the font's cmap (chars.txt is read from it), so none prints as a box.
func TestPosterFontHasEveryFixedCharacter(t *testing.T) {
	fixed := []string{SchemesLine, "全民参保 · 集中宣传", "微信扫一扫 · 现场签到", "地点：", "时间：", "应保尽保 · 老有所养 —— 全民参保计划",
		"0123456789年月日至—:", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz（）"}
	for _, n := range KindNames {
		fixed = append(fixed, n)
	}
	for _, s := range fixed {
		if bad := unprintable(s); bad != "" {
			t.Errorf("%q: the font lacks %q", s, bad)
		}
	}
	if unprintable("😀") == "" || unprintable("𠀀") == "" {
		t.Fatal("characters outside the subset pass")
	}
}

func TestWhen(t *testing.T) {
	d := func(m, day, h, min int) time.Time { return time.Date(2026, time.Month(m), day, h, min, 0, 0, shanghai) }
	for _, tc := range []struct {
		s, e time.Time
		want string
	}{
		{d(3, 12, 9, 0), d(3, 12, 12, 0), "2026年3月12日 09:00—12:00"},
		{d(3, 12, 9, 0), d(3, 13, 17, 30), "2026年3月12日 09:00 至 3月13日 17:30"},
		{d(12, 31, 9, 0), time.Date(2027, 1, 1, 10, 0, 0, 0, shanghai), "2026年12月31日 09:00 至 2027年1月1日 10:00"},
		{d(3, 12, 1, 0).UTC(), d(3, 12, 3, 0).UTC(), "2026年3月12日 01:00—03:00"}, // shown in Shanghai time
	} {
		if got := When(tc.s, tc.e, shanghai); got != tc.want {
			t.Errorf("%v-%v: %q, want %q", tc.s, tc.e, got, tc.want)
		}
	}
}

func TestNewScene(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		s := NewScene()
		if len(s) != SceneLength || strings.Trim(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" || seen[s] {
			t.Fatalf("scene %q", s)
		}
		seen[s] = true
	}
}

// TestAttributionWindowEdges: a registration counts from the moment of the check-in to the end
// of the window's last day (Shanghai); an enrollment from the check-in's day to that last day;
// the latest check-in takes the credit.
func TestAttributionWindowEdges(t *testing.T) {
	a := Attribution{Loc: shanghai, Days: 30}
	in := time.Date(2026, 3, 10, 22, 30, 0, 0, shanghai) // 14:30 UTC
	v := []Visit{{Event: 7, At: in}}
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{in.Add(-time.Microsecond), 0},
		{in, 7},
		{time.Date(2026, 4, 9, 23, 59, 59, 0, shanghai), 7}, // day 30, last moment
		{time.Date(2026, 4, 10, 0, 0, 0, 0, shanghai), 0},   // day 31
	} {
		if got := a.ForRegistration(v, tc.at); got != tc.want {
			t.Errorf("registration at %v: %d, want %d", tc.at, got, tc.want)
		}
	}
	day := func(m, d int) time.Time { return time.Date(2026, time.Month(m), d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		day  time.Time
		want int64
	}{
		{day(3, 9), 0}, {day(3, 10), 7}, {day(4, 9), 7}, {day(4, 10), 0},
	} {
		if got := a.ForEnrollment(v, tc.day); got != tc.want {
			t.Errorf("enrollment on %v: %d, want %d", tc.day.Format(time.DateOnly), got, tc.want)
		}
	}
	// A check-in late in the evening Shanghai time is already the next day in UTC terms for
	// nobody: days are Shanghai days.
	late := []Visit{{Event: 8, At: time.Date(2026, 3, 10, 16, 30, 0, 0, time.UTC)}} // 11 March 00:30 Shanghai
	if a.ForEnrollment(late, day(3, 10)) != 0 || a.ForEnrollment(late, day(3, 11)) != 8 {
		t.Error("days are not read in Shanghai time")
	}
	two := []Visit{{Event: 7, At: in}, {Event: 9, At: in.Add(24 * time.Hour)}}
	if a.ForRegistration(two, in.Add(2*time.Hour)) != 7 || a.ForRegistration(two, in.Add(48*time.Hour)) != 9 || a.ForEnrollment(two, day(3, 20)) != 9 {
		t.Error("the latest check-in does not take the credit")
	}
	if (Attribution{Loc: shanghai, Days: 1}).ForEnrollment(v, day(3, 12)) != 0 || (Attribution{Loc: shanghai, Days: 1}).ForEnrollment(v, day(3, 11)) != 7 {
		t.Error("window of one day")
	}
}

// TestPosterKeepsEveryCharacterOfLongLines: a title and a place of the longest allowed length
// wrap without losing a character (fpdf's own wrapping drops the one at each break), and the
// title keeps to two lines.
func TestPosterKeepsEveryCharacterOfLongLines(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		needTool(t, "pdftotext")
	}
	title := strings.Repeat("全民参保集中宣传活动", MaxTitle/10)
	place := strings.Repeat("罗东镇工业园区管委会", MaxPlace/10)
	e := Event{Input: Input{Title: title, Kind: KindIndustrialPark, Place: place, StartsAt: time.Date(2026, 3, 12, 9, 0, 0, 0, shanghai),
		EndsAt: time.Date(2026, 3, 14, 17, 0, 0, 0, shanghai)}}
	pdf, err := Poster(e, wechat.Image{ContentType: "image/png", Bytes: wechattest.CodeImage("s", 430)}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(out)), "")
	for _, want := range []string{title, "地点：" + place, "2026年3月12日09:00至3月14日17:00", SchemesLine} {
		if !strings.Contains(flat, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	// The title is at most two lines: the text before the code's caption has two title lines.
	lines := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "全民参保集中宣传活动") {
			lines++
		}
	}
	if lines > 2 {
		t.Errorf("title on %d lines", lines)
	}
}

// needTool stops a test that needs a poppler tool which is missing: a skip on a developer's
// machine, a failure in CI (CI=true), where ensure-services.sh installs poppler-utils, so a
// poster that cannot be read is never passed over silently.
func needTool(t *testing.T, name string) {
	t.Helper()
	msg := name + " (Debian package poppler-utils) is not installed: apt-get install poppler-utils"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
