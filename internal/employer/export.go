package employer

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/targetage"
)

type personRow struct {
	ID          int64  `db:"id"`
	Name        string `db:"name"`
	IDEnc       []byte `db:"id_number_enc"`
	KeyID       string `db:"pii_key_id"`
	Code        string `db:"credit_code"`
	Village     string `db:"village_code"`
	VillageName string `db:"village_name"`
}

// export answers the open cases as a workbook for the labour inspection brigade: a sheet of
// cases (employer, code, status, notes) and a sheet of their people (name, ID number, village).
// ID numbers are masked unless an admin asks with full_ids=true; every export is audited,
// before the workbook leaves.
func (s *Service) export(c *gin.Context) error {
	if f := c.DefaultQuery("format", "xlsx"); f != "xlsx" {
		return errs.Field(errs.InvalidInput, "format", "格式须为 xlsx")
	}
	full := false
	switch v := c.Query("full_ids"); v {
	case "", "false":
	case "true":
		full = true
	default:
		return errs.Field(errs.InvalidInput, "full_ids", "full_ids 须为 true 或 false")
	}
	p := auth.MustPrincipal(c)
	if full && p.Role != auth.RoleAdmin {
		return errs.New(errs.Forbidden, "只有管理员可以导出完整身份证号码")
	}
	ctx := c.Request.Context()
	var cs []Case
	if err := s.db.SelectContext(ctx, &cs, Queries.Get("open-cases"), maxExportCases+1); err != nil {
		return database.Map(err)
	}
	if len(cs) > maxExportCases {
		return errs.New(errs.RuleViolation, fmt.Sprintf("未办结案件超过 %d 件，无法一次导出", maxExportCases))
	}
	if err := s.withNotes(ctx, cs); err != nil {
		return err
	}
	var people []personRow
	if len(cs) > 0 {
		lo, hi := targetage.Range(s.today())
		args := []any{lo, hi}
		for _, k := range cs {
			args = append(args, k.CreditCode)
		}
		args = append(args, maxExportRows+1)
		if err := s.db.SelectContext(ctx, &people, database.ExpandIn(Queries.Get("people-of"), len(cs)), args...); err != nil {
			return database.Map(err)
		}
		if len(people) > maxExportRows {
			return errs.New(errs.RuleViolation, fmt.Sprintf("涉及人员超过 %d 人，无法一次导出", maxExportRows))
		}
	}
	ids := make([]string, len(people))
	for i, r := range people {
		id, err := s.kr.DecryptRow(r.IDEnc, r.KeyID, pii.AADResidentIDNumber, r.ID)
		if err != nil {
			return errs.Internalf("%w", err)
		}
		if !full {
			id = pii.MaskID(id)
		}
		ids[i] = id
	}
	body, err := workbook(cs, people, ids, s.loc)
	if err != nil {
		return errs.Internalf("render referrals xlsx: %w", err)
	}
	detail := "cases=" + strconv.Itoa(len(cs)) + " people=" + strconv.Itoa(len(people)) + " full_ids=" + strconv.FormatBool(full)
	if err := s.audit.Record(ctx, auth.AuditContext(c).Event("referral.export", "referral_case", 0, audit.Success, detail)); err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="canbao-referrals.xlsx"`)
	c.Data(http.StatusOK, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body)
	return nil
}

// Sheet names of the brigade's workbook.
const (
	SheetCases  = "移交案件"
	SheetPeople = "未参保人员"
)

func workbook(cs []Case, people []personRow, ids []string, shanghai *time.Location) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetCases); err != nil {
		return nil, err
	}
	if _, err := f.NewSheet(SheetPeople); err != nil {
		return nil, err
	}
	head, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Color: []string{"DDEBF7"}, Pattern: 1}})
	text, _ := f.NewStyle(&excelize.Style{NumFmt: 49}) // codes and ID numbers stay text
	villages := map[string][]string{}
	for _, r := range people {
		if v := villages[r.Code]; len(v) == 0 || v[len(v)-1] != r.VillageName {
			villages[r.Code] = append(v, r.VillageName)
		}
	}
	put := func(sheet string, row int, vals ...any) {
		for j, v := range vals {
			cell, _ := excelize.CoordinatesToCellName(j+1, row)
			_ = f.SetCellValue(sheet, cell, v)
		}
	}
	put(SheetCases, 1, "案件编号", "单位名称", "统一社会信用代码", "案件状态", "移交时未参保人数", "当前未参保人数", "涉及村（居）", "移交时间", "办理记录")
	_ = f.SetCellStyle(SheetCases, "A1", "I1", head)
	count := map[string]int{}
	for _, r := range people {
		count[r.Code]++
	}
	for i, k := range cs {
		var notes []string
		for _, n := range k.Notes {
			line := n.CreatedAt.In(shanghai).Format("2006-01-02") + " " + statusNames[n.Status] + "：" + n.Note
			if n.InsuredCount != nil {
				line += fmt.Sprintf("（参保 %d 人）", *n.InsuredCount)
			}
			notes = append(notes, line)
		}
		put(SheetCases, i+2, k.ID, k.EmployerName, k.CreditCode, statusNames[k.Status], k.ReferredCount, count[k.CreditCode],
			strings.Join(uniq(villages[k.CreditCode]), "、"), k.CreatedAt.In(shanghai).Format("2006-01-02 15:04"), strings.Join(notes, "\n"))
		_ = f.SetCellStyle(SheetCases, fmt.Sprintf("C%d", i+2), fmt.Sprintf("C%d", i+2), text)
	}
	_ = f.SetColWidth(SheetCases, "B", "B", 30)
	_ = f.SetColWidth(SheetCases, "C", "C", 22)
	_ = f.SetColWidth(SheetCases, "I", "I", 60)

	put(SheetPeople, 1, "案件编号", "单位名称", "统一社会信用代码", "姓名", "身份证号码", "村（居）")
	_ = f.SetCellStyle(SheetPeople, "A1", "F1", head)
	caseOf := map[string]Case{}
	for _, k := range cs {
		caseOf[k.CreditCode] = k
	}
	for i, r := range people {
		k := caseOf[r.Code]
		put(SheetPeople, i+2, k.ID, k.EmployerName, r.Code, r.Name, ids[i], r.VillageName)
	}
	if len(people) > 0 {
		_ = f.SetCellStyle(SheetPeople, "C2", fmt.Sprintf("C%d", len(people)+1), text)
		_ = f.SetCellStyle(SheetPeople, "E2", fmt.Sprintf("E%d", len(people)+1), text)
	}
	_ = f.SetColWidth(SheetPeople, "B", "B", 30)
	_ = f.SetColWidth(SheetPeople, "C", "C", 22)
	_ = f.SetColWidth(SheetPeople, "E", "E", 22)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
