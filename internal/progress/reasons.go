package progress

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/analysis"
	"github.com/canbao/canbao/internal/platform/database"
)

// The bulletin's section "未参保原因分析" (why people stay out, issue 14): the month's visit
// outcomes and reasons by village, counted as GET /api/v1/admin/analysis/reasons counts them
// (each person's latest visit from the month's first day to as_of; package analysis).
//
// Stored bulletins: a closed month's bulletin is stored once, as JSON (Monthly), and answered
// as stored ever after. The section is a field of Monthly, computed in ComputeMonthly, so a
// bulletin frozen from now on stores it with the rest. A bulletin stored before the section
// existed has none; it gets the section computed from the visits recorded (created_at) up to
// the moment it was stored (monthly_reports.generated_at), which is exactly what the section
// would have said then: visits are never changed or deleted, and a person's birth date and
// gender never change. known_by says so in the answer. A visit logged late and dated in the
// closed month counts in neither kind of stored section, as it counts in no stored figure.

// ReasonFigures are one village's (or the town's) figures of the section.
type ReasonFigures struct {
	// Visited counts the people visited in the month (each once, by their latest visit).
	Visited int `json:"visited"`
	// StayingOut counts those whose latest visit was refused or considering.
	StayingOut int `json:"staying_out"`
	// WithoutReason counts those staying out whose visit recorded no reason.
	WithoutReason int `json:"without_reason"`
	// ByReason has every reason in the reasons' order.
	ByReason []analysis.Count `json:"by_reason"`
	// TopReasons are the most frequent reasons given (at most three, none with a zero count).
	TopReasons []analysis.Count `json:"top_reasons"`
}

// ReasonRow is one village's line of the section.
type ReasonRow struct {
	Code string `json:"code"`
	Name string `json:"name"`
	ReasonFigures
}

// MonthlyReasons is the bulletin's section "未参保原因分析".
type MonthlyReasons struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Counting string `json:"counting"`
	// KnownBy is null when the section was computed with the bulletin; for a bulletin stored
	// before the section existed, the moment it was stored: only visits recorded by then count.
	KnownBy  *time.Time    `json:"known_by"`
	Villages []ReasonRow   `json:"villages"`
	Total    ReasonFigures `json:"total"`
}

// topReasons is how many reasons a row names as its main ones.
const topReasons = 3

// WithLocation sets the business time zone the section's days are read in (default
// Asia/Shanghai).
func (s *Store) WithLocation(loc *time.Location) *Store {
	s.loc = loc
	return s
}

func (s *Store) location() *time.Location {
	if s.loc != nil {
		return s.loc
	}
	return mustShanghai()
}

// MonthlyReasons computes the section for the days month..asOf; a non-zero knownBy counts only
// the visits recorded up to it.
func (s *Store) MonthlyReasons(ctx context.Context, month, asOf, knownBy time.Time) (*MonthlyReasons, error) {
	loc := s.location()
	villages, err := analysis.Villages(ctx, s.db)
	if err != nil {
		return nil, err
	}
	r, err := analysis.Reasons(ctx, s.db, analysis.Query{From: month, To: asOf, Loc: loc, KnownBy: knownBy}, villages)
	if err != nil {
		return nil, err
	}
	figures := func(g analysis.Group) ReasonFigures {
		return ReasonFigures{Visited: g.People, StayingOut: g.StayingOut, WithoutReason: g.WithoutReason,
			ByReason: g.ByReason, TopReasons: analysis.TopReasons(g, topReasons)}
	}
	out := &MonthlyReasons{From: r.From, To: r.To, Counting: r.Counting, Villages: make([]ReasonRow, len(r.ByVillage)),
		Total: figures(analysis.Group{People: r.Totals.People, StayingOut: r.Totals.StayingOut,
			WithoutReason: r.Totals.WithoutReason, ByReason: r.ByReason})}
	if !knownBy.IsZero() {
		k := knownBy.UTC()
		out.KnownBy = &k
	}
	for i, g := range r.ByVillage {
		out.Villages[i] = ReasonRow{Code: g.Code, Name: g.Label, ReasonFigures: figures(g)}
	}
	return out, nil
}

// storedReasons gives a stored bulletin without the section (stored before it existed) the
// section as it stood when the bulletin was stored.
func (s *Store) storedReasons(ctx context.Context, planID int64, month time.Time) (*MonthlyReasons, error) {
	var at time.Time
	err := s.db.GetContext(ctx, &at, Queries.Get("monthly-frozen-at"), planID, month.Format("2006-01"))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("progress: stored bulletin vanished")
	}
	if err != nil {
		return nil, database.Map(err)
	}
	return s.MonthlyReasons(ctx, month, month.AddDate(0, 1, -1), at)
}

// reasonsSheet adds the section as a sheet of its own to the bulletin's workbook.
func reasonsSheet(f *excelize.File, m Monthly) error {
	const sheet = "未参保原因分析"
	if m.Reasons == nil {
		return nil
	}
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	rs := m.Reasons
	title, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 16}, Alignment: &excelize.Alignment{Horizontal: "center"}})
	head, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDEBF7"}, Pattern: 1},
		Border: border(), Alignment: &excelize.Alignment{Horizontal: "center", WrapText: true}})
	cell, _ := f.NewStyle(&excelize.Style{Border: border()})
	bold, _ := f.NewStyle(&excelize.Style{Border: border(), Font: &excelize.Font{Bold: true}})

	headers := []string{"村（居）", "走访人数", "未参保人数（拒绝或考虑中）"}
	for _, c := range rs.Total.ByReason {
		headers = append(headers, c.Label)
	}
	headers = append(headers, "未注明原因", "主要原因")
	last, _ := excelize.ColumnNumberToName(len(headers))
	month := m.Month
	if t, err := time.Parse("2006-01", m.Month); err == nil {
		month = t.Format("2006年1月")
	}
	_ = f.MergeCell(sheet, "A1", last+"1")
	_ = f.SetCellValue(sheet, "A1", month+"未参保原因分析")
	_ = f.SetCellStyle(sheet, "A1", "A1", title)
	note := fmt.Sprintf("统计时段 %s 至 %s；每人以时段内最后一次入户走访为准，未参保人数为走访结果为“拒绝”或“考虑中”的人数。", rs.From, rs.To)
	if rs.KnownBy != nil {
		note += "本节按通报封存时（" + rs.KnownBy.In(mustShanghai()).Format("2006-01-02 15:04") + "）已录入的走访记录计算。"
	}
	_ = f.MergeCell(sheet, "A2", last+"2")
	_ = f.SetCellValue(sheet, "A2", note)
	for i, h := range headers {
		c, _ := excelize.CoordinatesToCellName(i+1, 4)
		_ = f.SetCellValue(sheet, c, h)
	}
	_ = f.SetCellStyle(sheet, "A4", last+"4", head)
	write := func(row int, name string, r ReasonFigures, style int) {
		vals := []any{name, r.Visited, r.StayingOut}
		for _, c := range r.ByReason {
			vals = append(vals, c.Count)
		}
		vals = append(vals, r.WithoutReason, topText(r.TopReasons))
		for j, v := range vals {
			c, _ := excelize.CoordinatesToCellName(j+1, row)
			_ = f.SetCellValue(sheet, c, v)
		}
		_ = f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("%s%d", last, row), style)
	}
	for i, v := range rs.Villages {
		write(5+i, v.Name, v.ReasonFigures, cell)
	}
	write(5+len(rs.Villages), "合计", rs.Total, bold)
	_ = f.SetColWidth(sheet, "A", "A", 12)
	_ = f.SetColWidth(sheet, "B", last, 12)
	_ = f.SetColWidth(sheet, last, last, 30)
	return nil
}

// topText writes the main reasons as 缴不起费 5人、不愿参保 3人 (— when none was given).
func topText(cs []analysis.Count) string {
	if len(cs) == 0 {
		return "—"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %d人", c.Label, c.Count)
	}
	return strings.Join(parts, "、")
}

func mustShanghai() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return l
}
