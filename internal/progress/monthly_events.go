package progress

import (
	"context"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/event"
)

// EventSource gives the publicity events (集中宣传) that start in a month, with their
// check-ins and the registrations and enrollments attributed to them (*event.Service).
type EventSource interface {
	OfMonth(ctx context.Context, month time.Time) ([]event.MonthEvent, error)
}

// WithEvents makes the bulletin list the month's publicity events.
func (s *Store) WithEvents(src EventSource) *Store {
	s.events = src
	return s
}

// WithEvents makes the bulletin list the month's publicity events.
func (h *Handlers) WithEvents(src EventSource) *Handlers {
	h.store.WithEvents(src)
	return h
}

func (s *Store) monthEvents(ctx context.Context, month time.Time) ([]event.MonthEvent, error) {
	if s.events == nil {
		return []event.MonthEvent{}, nil
	}
	return s.events.OfMonth(ctx, month)
}

// eventsSheet adds the sheet 集中宣传 to the bulletin's workbook: each of the month's events
// with its check-ins and the registrations and enrollments that followed.
func eventsSheet(f *excelize.File, m Monthly) error {
	const sheet = "集中宣传"
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	title, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	head, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDEBF7"}, Pattern: 1},
		Border: border(), Alignment: &excelize.Alignment{Horizontal: "center", WrapText: true}})
	cell, _ := f.NewStyle(&excelize.Style{Border: border()})
	_ = f.SetCellValue(sheet, "A1", m.Month[:4]+"年"+trimZero(m.Month[5:])+"月集中宣传活动")
	_ = f.SetCellStyle(sheet, "A1", "A1", title)
	headers := []string{"活动名称", "类型", "地点", "开始时间", "签到人数", "其后登记人数", "其后参保人数"}
	for i, h := range headers {
		c, _ := excelize.CoordinatesToCellName(i+1, 3)
		_ = f.SetCellValue(sheet, c, h)
	}
	_ = f.SetCellStyle(sheet, "A3", "G3", head)
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return err
	}
	if len(m.Events) == 0 {
		_ = f.SetCellValue(sheet, "A4", "本月未开展集中宣传活动。")
		return nil
	}
	var in, reg, enr int
	for i, e := range m.Events {
		row := 4 + i
		vals := []any{e.Title, event.KindNames[e.Kind], e.Place, e.StartsAt.In(loc).Format("2006-01-02 15:04"), e.CheckedIn, e.Registered, e.Enrolled}
		for j, v := range vals {
			c, _ := excelize.CoordinatesToCellName(j+1, row)
			_ = f.SetCellValue(sheet, c, v)
		}
		c, _ := excelize.CoordinatesToCellName(7, row)
		_ = f.SetCellStyle(sheet, "A"+strconv.Itoa(row), c, cell)
		in, reg, enr = in+e.CheckedIn, reg+e.Registered, enr+e.Enrolled
	}
	total := 4 + len(m.Events)
	for j, v := range []any{"合计", "", "", "", in, reg, enr} {
		c, _ := excelize.CoordinatesToCellName(j+1, total)
		_ = f.SetCellValue(sheet, c, v)
	}
	_ = f.SetCellValue(sheet, "A"+strconv.Itoa(total+2), "说明：签到后在归因期内提交登记或新增参保的人数计入该活动；同一人以最近一次签到的活动为准。")
	_ = f.SetColWidth(sheet, "A", "A", 30)
	_ = f.SetColWidth(sheet, "B", "D", 16)
	_ = f.SetColWidth(sheet, "E", "G", 12)
	return nil
}

func trimZero(s string) string {
	if len(s) == 2 && s[0] == '0' {
		return s[1:]
	}
	return s
}
