package event

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/canbao/canbao/internal/wechat"
)

// The poster's font: WenQuanYi Micro Hei (文泉驿微米黑, Apache License 2.0), cut down to ASCII and GB 2312
// by font/subset.sh; font/LICENSE and font/NOTICE travel with it. fpdf embeds only the glyphs
// a poster uses, so a poster is about 100 KiB whatever the font's size.
//
//go:embed font/WenQuanYiMicroHei-GB2312.ttf
var posterFont []byte

//go:embed font/chars.txt
var posterChars string

var printable = func() map[rune]bool {
	m := make(map[rune]bool, len(posterChars))
	for _, r := range posterChars {
		m[r] = true
	}
	return m
}()

// unprintable returns the first character of s the poster's font lacks ("" if none).
func unprintable(s string) string {
	for _, r := range s {
		if !printable[r] {
			return string(r)
		}
	}
	return ""
}

// SchemesLine is the poster's line on the two pension schemes.
const SchemesLine = "城乡居民基本养老保险、企业职工基本养老保险：16至59周岁未参保人员均可现场咨询、登记参保"

// Poster renders the event's A4 poster: the title, the mini-program code to scan, the place
// and time, and one line on the two schemes, all in Chinese.
func Poster(e Event, code wechat.Image, loc *time.Location) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(e.CreatedAt) // the same event gives the same file
	pdf.SetCatalogSort(true)
	pdf.SetTitle(e.Title, true)
	pdf.SetProducer("canbao", false)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes("cjk", "", posterFont)
	pdf.AddPage()
	const pageW, margin = 210.0, 18.0
	width := pageW - 2*margin

	// Header band.
	pdf.SetFillColor(192, 0, 0)
	pdf.Rect(0, 0, pageW, 34, "F")
	pdf.SetTextColor(255, 255, 255)
	pdf.SetFont("cjk", "", 26)
	pdf.SetXY(margin, 9)
	pdf.CellFormat(width, 12, "全民参保 · 集中宣传", "", 1, "C", false, 0, "")
	pdf.SetFont("cjk", "", 12)
	pdf.SetX(margin)
	pdf.CellFormat(width, 7, KindNames[e.Kind], "", 1, "C", false, 0, "")

	// Title, wrapped to at most two lines.
	pdf.SetTextColor(20, 20, 20)
	var lines []string
	for _, size := range []float64{24, 21, 18} { // the largest size that fits two lines
		pdf.SetFont("cjk", "", size)
		if lines = wrap(pdf, e.Title, width); len(lines) <= 2 {
			break
		}
	}
	pdf.SetXY(margin, 44)
	for _, l := range lines {
		pdf.SetX(margin)
		pdf.CellFormat(width, 12, l, "", 1, "C", false, 0, "")
	}

	// The code.
	typ := "PNG"
	if code.ContentType == "image/jpeg" {
		typ = "JPG"
	}
	opts := fpdf.ImageOptions{ImageType: typ, ReadDpi: false}
	pdf.RegisterImageOptionsReader("code", opts, bytes.NewReader(code.Bytes))
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("poster: code image: %w", err)
	}
	const codeSize, codeTop = 100.0, 76.0
	pdf.ImageOptions("code", (pageW-codeSize)/2, codeTop, codeSize, codeSize, false, opts, 0, "")
	pdf.SetFont("cjk", "", 16)
	pdf.SetXY(margin, codeTop+codeSize+4)
	pdf.CellFormat(width, 9, "微信扫一扫 · 现场签到", "", 1, "C", false, 0, "")

	// Place and time.
	pdf.SetFont("cjk", "", 15)
	y := codeTop + codeSize + 20
	for _, kv := range [][2]string{{"地点：", e.Place}, {"时间：", When(e.StartsAt, e.EndsAt, loc)}} {
		pdf.SetXY(margin+8, y)
		pdf.CellFormat(22, 9, kv[0], "", 0, "L", false, 0, "")
		for i, l := range wrap(pdf, kv[1], width-30) {
			pdf.SetXY(margin+30, y+float64(i)*9)
			pdf.CellFormat(width-30, 9, l, "", 2, "L", false, 0, "")
		}
		y = pdf.GetY() + 3
	}

	// The schemes.
	pdf.SetFillColor(253, 242, 233)
	pdf.Rect(margin, y+4, width, 30, "F")
	pdf.SetFont("cjk", "", 13)
	for i, l := range wrap(pdf, SchemesLine, width-10) {
		pdf.SetXY(margin+5, y+8+float64(i)*7.5)
		pdf.CellFormat(width-10, 7.5, l, "", 0, "L", false, 0, "")
	}

	pdf.SetFont("cjk", "", 11)
	pdf.SetTextColor(90, 90, 90)
	pdf.SetXY(margin, 276)
	pdf.CellFormat(width, 6, "应保尽保 · 老有所养 —— 全民参保计划", "", 1, "C", false, 0, "")

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// When writes an event's time in Chinese: "2026年12月8日 09:00—12:00" or, across days,
// "2026年12月8日 09:00 至 12月9日 17:00".
func When(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	day := func(t time.Time) string { return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day()) }
	if s.Format(time.DateOnly) == e.Format(time.DateOnly) {
		return day(s) + " " + s.Format("15:04") + "—" + e.Format("15:04")
	}
	other := strings.TrimPrefix(day(e), fmt.Sprintf("%d年", s.Year()))
	return day(s) + " " + s.Format("15:04") + " 至 " + other + " " + e.Format("15:04")
}

// wrap breaks s into lines no wider than w in the current font, between any two characters
// (Chinese has no spaces to break at; fpdf's SplitText drops the character at each break).
func wrap(pdf *fpdf.Fpdf, s string, w float64) []string {
	var lines []string
	var line []rune
	for _, r := range s {
		if len(line) > 0 && pdf.GetStringWidth(string(append(line, r))) > w {
			lines = append(lines, string(line))
			line = line[:0]
		}
		line = append(line, r)
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}
