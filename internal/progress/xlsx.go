package progress

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"
)

// MonthlyXLSX renders the bulletin for printing and forwarding: title, date, the table with
// its total row, a bar chart of task completion per village and a note on villages behind pace.
func MonthlyXLSX(m Monthly) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "通报"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	title, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 16}, Alignment: &excelize.Alignment{Horizontal: "center"}})
	head, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDEBF7"}, Pattern: 1},
		Border: border(), Alignment: &excelize.Alignment{Horizontal: "center", WrapText: true}})
	cell, _ := f.NewStyle(&excelize.Style{Border: border()})
	pct, _ := f.NewStyle(&excelize.Style{Border: border(), NumFmt: 10})
	bold, _ := f.NewStyle(&excelize.Style{Border: border(), Font: &excelize.Font{Bold: true}})
	boldPct, _ := f.NewStyle(&excelize.Style{Border: border(), Font: &excelize.Font{Bold: true}, NumFmt: 10})

	headers := []string{"排名", "村（居）", "本月新增参保", "累计新增参保", "应扩面人数", "年度任务数", "完成应扩面比例", "完成年度任务比例", "近四周周均新增", "按此进度年底预计", "进度"}
	last := string(rune('A' + len(headers) - 1))
	_ = f.MergeCell(sheet, "A1", last+"1")
	_ = f.SetCellValue(sheet, "A1", m.Title)
	_ = f.SetCellStyle(sheet, "A1", "A1", title)
	_ = f.MergeCell(sheet, "A2", last+"2")
	status := "截至 " + m.AsOf
	if m.Frozen {
		status += "（本月已结账，数据已封存）"
	}
	_ = f.SetCellValue(sheet, "A2", status)
	for i, h := range headers {
		c, _ := excelize.CoordinatesToCellName(i+1, 4)
		_ = f.SetCellValue(sheet, c, h)
	}
	_ = f.SetCellStyle(sheet, "A4", last+"4", head)
	for i, r := range m.Villages {
		row := 5 + i
		pace := "正常"
		if r.BehindPace {
			pace = "滞后"
		} else if r.Task > 0 && r.NewToDate >= r.Task {
			pace = "已完成"
		}
		vals := []any{r.Rank, r.Name, r.NewMonth, r.NewToDate, r.ExpansionTarget, r.Task, num(r.TargetRate), num(r.TaskRate), r.WeeklyPace, r.ProjectedYearEnd, pace}
		for j, v := range vals {
			c, _ := excelize.CoordinatesToCellName(j+1, row)
			_ = f.SetCellValue(sheet, c, v)
		}
		_ = f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("F%d", row), cell)
		_ = f.SetCellStyle(sheet, fmt.Sprintf("G%d", row), fmt.Sprintf("H%d", row), pct)
		_ = f.SetCellStyle(sheet, fmt.Sprintf("I%d", row), fmt.Sprintf("%s%d", last, row), cell)
	}
	totalRow := 5 + len(m.Villages)
	t := m.Total
	for j, v := range []any{"", "合计", t.NewMonth, t.NewToDate, t.ExpansionTarget, t.Task, num(t.TargetRate), num(t.TaskRate)} {
		c, _ := excelize.CoordinatesToCellName(j+1, totalRow)
		_ = f.SetCellValue(sheet, c, v)
	}
	_ = f.SetCellStyle(sheet, fmt.Sprintf("A%d", totalRow), fmt.Sprintf("F%d", totalRow), bold)
	_ = f.SetCellStyle(sheet, fmt.Sprintf("G%d", totalRow), fmt.Sprintf("H%d", totalRow), boldPct)
	_ = f.SetColWidth(sheet, "A", "A", 6)
	_ = f.SetColWidth(sheet, "B", "B", 12)
	_ = f.SetColWidth(sheet, "C", last, 13)

	noteRow := totalRow + 2
	note := "各村（居）均按进度推进。"
	if len(m.BehindPace) > 0 {
		names := make([]string, 0, len(m.BehindPace))
		for _, r := range m.Villages {
			if r.BehindPace {
				names = append(names, r.Name)
			}
		}
		note = "按近四周进度测算，年底前无法完成年度任务的村（居）：" + strings.Join(names, "、") + "。请相关村（居）加大入户走访和宣传动员力度。"
	}
	_ = f.MergeCell(sheet, fmt.Sprintf("A%d", noteRow), fmt.Sprintf("%s%d", last, noteRow))
	_ = f.SetCellValue(sheet, fmt.Sprintf("A%d", noteRow), "说明："+note)

	if len(m.Villages) > 0 {
		first, end := 5, 4+len(m.Villages)
		err := f.AddChart(sheet, fmt.Sprintf("A%d", noteRow+2), &excelize.Chart{
			Type: excelize.Bar,
			Series: []excelize.ChartSeries{{
				Name:       fmt.Sprintf("%s!$H$4", sheet),
				Categories: fmt.Sprintf("%s!$B$%d:$B$%d", sheet, first, end),
				Values:     fmt.Sprintf("%s!$H$%d:$H$%d", sheet, first, end),
			}},
			Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "各村（居）完成年度任务比例"}}},
			Dimension: excelize.ChartDimension{Width: 720, Height: 420},
			Legend:    excelize.ChartLegend{Position: "none"},
			YAxis:     excelize.ChartAxis{NumFmt: excelize.ChartNumFmt{CustomNumFmt: "0%"}},
		})
		if err != nil {
			return nil, err
		}
	}
	if err := reasonsSheet(f, m); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func num(p *float64) any {
	if p == nil {
		return ""
	}
	return *p
}

func border() []excelize.Border {
	return []excelize.Border{{Type: "left", Color: "999999", Style: 1}, {Type: "right", Color: "999999", Style: 1},
		{Type: "top", Color: "999999", Style: 1}, {Type: "bottom", Color: "999999", Style: 1}}
}
