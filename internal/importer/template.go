package importer

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Sheet names of the files this area writes.
const (
	sheetRoster = "花名册"
	sheetNotes  = "填写说明"
	sheetErrors = "导入错误"
)

// exampleRow is the template's one example: a synthetic, checksum-valid ID number and a name
// that the importer refuses, so an example left in the file never becomes a resident.
func exampleRow(vills []villageEntry) []string {
	village := "振兴村"
	if len(vills) > 0 {
		village = vills[0].Name
	}
	id := idcard.Generate("350583", time.Date(1990, time.January, 1, 0, 0, 0, 0, time.UTC), 0, idcard.Male)
	return []string{id, "示例（导入前请删除本行）", "男", "", village, "是", "否", "未参保", "示例鞋业有限公司", exampleCreditCode}
}

// exampleCreditCode is a synthetic code with both check characters right, for the example row.
var exampleCreditCode = creditcode.Generate("91", "350583", "MA2Y0001")

func headerRow() []string {
	h := make([]string, len(columns))
	for i, c := range columns {
		h[i] = c.label
	}
	return h
}

// notes explain each column, for the template's second sheet.
var notes = [][]string{
	{"列", "是否必填", "填写说明"},
	{"身份证号码", "必填", "18 位居民身份证号码（15 位旧号码也可），末位 X 大小写均可。请把该列设为文本格式，避免被表格软件改成科学计数法"},
	{"姓名", "必填", "1 至 30 个字，不含数字和符号"},
	{"性别", "选填", "男 或 女；须与身份证号码一致（不填则按身份证号码）"},
	{"手机号码", "选填", "11 位手机号码；不填则保留系统中已有的号码"},
	{"村居", "必填", "本镇村居的名称或代码，见下表"},
	{"是否就业", "选填", "是 或 否（也可填 1/0、Y/N）；新人员不填按“否”，已有人员不填则保持不变"},
	{"是否被征地农民", "选填", "同上"},
	{"参保状态", "必填", "未参保、城乡居民养老保险、企业职工养老保险、不需参保（或“暂缓”）"},
	{"工作单位", "选填", "用人单位名称，2 至 128 个字；不填则保留系统中已有的单位。填写了工作单位的人员按“已就业”处理，“是否就业”填“否”的该行报错"},
	{"统一社会信用代码", "选填", "用人单位的 18 位统一社会信用代码（营业执照上），系统会核对校验位；小写字母按大写处理。请把该列设为文本格式。规则同上"},
	{},
	{"第 1 行为表头，列的顺序不限，多余的列会被忽略；同一文件中身份证号码重复的，以第一次出现的为准。", "", ""},
	{"重复导入同一文件不会产生重复数据；由未参保变为已参保的人员计入导入当日的新增参保。", "", ""},
	{"第 2 行为示例，导入前请删除。", "", ""},
}

// writeXLSXTemplate writes the template workbook: the roster sheet (header, example, text
// format on the number columns) and the notes with the town's villages.
func writeXLSXTemplate(w io.Writer, vills []villageEntry) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheetRoster); err != nil {
		return errs.Internalf("importer: template: %w", err)
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": keep long numbers as text
	if err != nil {
		return errs.Internalf("importer: template: %w", err)
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return errs.Internalf("importer: template: %w", err)
	}
	steps := []func() error{
		func() error { return f.SetColStyle(sheetRoster, "A", text) },
		func() error { return f.SetColStyle(sheetRoster, "D", text) },
		func() error { return f.SetColWidth(sheetRoster, "A", "A", 22) },
		func() error { return f.SetColWidth(sheetRoster, "B", "B", 26) },
		func() error { return f.SetColWidth(sheetRoster, "C", "C", 6) },
		func() error { return f.SetColWidth(sheetRoster, "D", "G", 14) },
		func() error { return f.SetColWidth(sheetRoster, "H", "H", 22) },
		func() error { return f.SetColStyle(sheetRoster, "J", text) },
		func() error { return f.SetColWidth(sheetRoster, "I", "I", 26) },
		func() error { return f.SetColWidth(sheetRoster, "J", "J", 22) },
		func() error { return f.SetSheetRow(sheetRoster, "A1", ptr(anyRow(headerRow()))) },
		func() error { return f.SetRowStyle(sheetRoster, 1, 1, bold) },
		func() error { return f.SetSheetRow(sheetRoster, "A2", ptr(anyRow(exampleRow(vills)))) },
		func() error { return f.SetCellStyle(sheetRoster, "A2", "A2", text) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return errs.Internalf("importer: template: %w", err)
		}
	}
	if _, err := f.NewSheet(sheetNotes); err != nil {
		return errs.Internalf("importer: template: %w", err)
	}
	row := 1
	for _, n := range notes {
		if len(n) > 0 {
			if err := f.SetSheetRow(sheetNotes, fmt.Sprintf("A%d", row), ptr(anyRow(n))); err != nil {
				return errs.Internalf("importer: template: %w", err)
			}
		}
		row++
	}
	row++
	if err := f.SetSheetRow(sheetNotes, fmt.Sprintf("A%d", row), &[]any{"村居名称", "村居代码"}); err != nil {
		return errs.Internalf("importer: template: %w", err)
	}
	for _, v := range vills {
		row++
		if err := f.SetSheetRow(sheetNotes, fmt.Sprintf("A%d", row), &[]any{v.Name, v.Code}); err != nil {
			return errs.Internalf("importer: template: %w", err)
		}
	}
	_ = f.SetColWidth(sheetNotes, "A", "A", 18)
	_ = f.SetColWidth(sheetNotes, "C", "C", 90)
	f.SetActiveSheet(0)
	if _, err := f.WriteTo(w); err != nil {
		return errs.Internalf("importer: template: %w", err)
	}
	return nil
}

// writeCSVTemplate writes the header and the example row as UTF-8 CSV with a BOM (so that
// Excel shows the Chinese).
func writeCSVTemplate(w io.Writer, vills []villageEntry) error {
	if _, err := w.Write([]byte{0xEF, 0xBB, 0xBF}); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	_ = cw.Write(headerRow())
	_ = cw.Write(exampleRow(vills))
	cw.Flush()
	return cw.Error()
}

// writeErrorReport writes every failed row of an import as XLSX, streaming from the database;
// it returns how many rows it wrote.
func (im *Importer) writeErrorReport(ctx context.Context, importID int64, w io.Writer) (int, error) {
	f := excelize.NewFile(excelize.Options{TmpDir: tempDir()})
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheetErrors); err != nil {
		return 0, errs.Internalf("importer: error report: %w", err)
	}
	sw, err := f.NewStreamWriter(sheetErrors)
	if err != nil {
		return 0, errs.Internalf("importer: error report: %w", err)
	}
	_ = sw.SetColWidth(1, 1, 8)
	_ = sw.SetColWidth(2, 2, 16)
	_ = sw.SetColWidth(3, 3, 70)
	if err := sw.SetRow("A1", []any{"行号", "列", "错误说明"}); err != nil {
		return 0, errs.Internalf("importer: error report: %w", err)
	}
	rows, err := im.db.QueryxContext(ctx, Queries.Get("import-errors-all"), importID)
	if err != nil {
		return 0, database.Map(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var e errorRow
		if err := rows.StructScan(&e); err != nil {
			return 0, database.Map(err)
		}
		n++
		cell, _ := excelize.CoordinatesToCellName(1, n+1)
		if err := sw.SetRow(cell, []any{e.Row, fieldLabel(e.Field.String), e.Message}); err != nil {
			return 0, errs.Internalf("importer: error report: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, database.Map(err)
	}
	if err := sw.Flush(); err != nil {
		return 0, errs.Internalf("importer: error report: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return 0, errs.Internalf("importer: error report: %w", err)
	}
	return n, nil
}

func anyRow(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }
