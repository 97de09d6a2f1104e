package registration

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/eligibility"
	"github.com/canbao/canbao/internal/enrollment"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/platform/xlsxcheck"
	"github.com/canbao/canbao/internal/roster"
)

// The hand-over to the city social insurance centre: the town exports the registrations it
// confirmed or referred, the centre processes them, and its answer (processed, or refused with
// a reason) is imported back.

// CityAnswersRoute is the upload endpoint of the centre's answers (it has its own body limit).
const CityAnswersRoute = "/api/v1/admin/city-answers"

// maxExportRows bounds one export; a town's year fits many times over.
const maxExportRows = 100_000

// handoverRoutes registers the export and the re-import.
func (s *Service) handoverRoutes(r *auth.Router) {
	r.Handle(http.MethodGet, "/api/v1/admin/exports/registrations", auth.Allow(auth.RoleStaff, auth.RoleAdmin), web.H(s.export))
	r.Handle(http.MethodPost, CityAnswersRoute, auth.Allow(auth.RoleAdmin), web.H(s.cityAnswers))
}

// The city centre's answers to a handed-over registration (registrations.city_result).
const (
	CityProcessed = "processed" // 已办理
	CityRefused   = "refused"   // 未办理, with a reason
)

// answerUnchanged is an answer row that only confirmed what was already recorded.
const answerUnchanged = "unchanged"

// The 状态 column of the export: a registration staff confirmed, or one referred to the centre.
const (
	exportConfirmed = "已确认"
	exportReferred  = "已转介"
)

var schemeNames = map[string]string{eligibility.ResidentPension: "城乡居民基本养老保险", eligibility.EmployeePension: "企业职工基本养老保险"}

// exportRow is a registration with what the roster says about its person.
type exportRow struct {
	row
	PersonName     string `db:"person_name"`
	PersonVillage  string `db:"person_village"`
	PersonPhoneEnc []byte `db:"person_phone_enc"`
	PersonKeyID    string `db:"person_key_id"`
}

// export writes the registrations decided in [from, to] (Asia/Shanghai days) as XLSX: full ID
// numbers for admins, masked for staff; every export is audited.
func (s *Service) export(c *gin.Context) error {
	// At most a year and a day: a leap year, or the same date a year on, both ends included.
	from, to, err := web.ParseDateRange(c.Query("from"), c.Query("to"), "from", "to", 367)
	if err != nil {
		return err
	}
	village := c.Query("village")
	if err := auth.CheckVillageCode(village); err != nil {
		return err
	}
	req := ExportRequest{From: from, To: to, Village: village, Full: auth.MustPrincipal(c).Role == auth.RoleAdmin}
	xlsx, err := s.Export(c.Request.Context(), auth.AuditContext(c), req)
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="canbao-registrations-%s-%s.xlsx"`, from.Format("20060102"), to.Format("20060102")))
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx)
	return nil
}

// ExportRequest is a validated export: the civil days From to To (both included), one village
// (the person's) or all, and full ID numbers and phones (admins) or masked ones.
type ExportRequest struct {
	From, To time.Time
	Village  string
	Full     bool
}

// Export answers the hand-over workbook of the registrations decided in the request's days,
// and audits it (actx is the caller). Too many rows is an error on "to".
func (s *Service) Export(ctx context.Context, actx audit.Context, req ExportRequest) ([]byte, error) {
	rows, err := s.decidedBetween(ctx, dayStart(req.From, s.loc), dayStart(req.To.AddDate(0, 0, 1), s.loc), req.Village, maxExportRows+1)
	if err != nil {
		return nil, err
	}
	if len(rows) > maxExportRows {
		return nil, errs.Field(errs.InvalidInput, "to", "导出记录过多，请缩小日期范围")
	}
	xlsx, err := s.exportWorkbook(rows, req.Full)
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("from=%s to=%s rows=%d full=%t", req.From.Format(time.DateOnly), req.To.Format(time.DateOnly), len(rows), req.Full)
	if err := s.audit.Record(ctx, actx.Event("registration.export", "registration", 0, audit.Success, detail)); err != nil {
		return nil, err
	}
	return xlsx, nil
}

// dayStart is 00:00 of civil date d in loc, in UTC.
func dayStart(d time.Time, loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc).UTC()
}

// decidedBetween reads up to limit registrations decided (confirmed, or referred) in [lo, hi),
// of one village or all (""), with their person.
func (s *Service) decidedBetween(ctx context.Context, lo, hi time.Time, village string, limit int) ([]exportRow, error) {
	q, args := Queries.Get("export-decided"), []any{lo, hi, lo, hi}
	if village != "" {
		q, args = Queries.Get("export-decided-village"), append(args, village)
	}
	var rows []exportRow
	if err := s.db.SelectContext(ctx, &rows, q, append(args, limit)...); err != nil {
		return nil, database.Map(err)
	}
	return rows, nil
}

// exportWorkbook writes the rows as the hand-over's sheet, ID numbers and phones in full or masked.
func (s *Service) exportWorkbook(rows []exportRow, full bool) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "参保登记"
	_ = f.SetSheetName("Sheet1", sheet)
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	header := []any{"登记编号", "村（居）", "姓名", "身份证号码", "手机号码", "险种", "缴费档次（元）", "状态", "确认/登记日期", "办理结果", "原因"}
	if err := sw.SetRow("A1", header); err != nil {
		return nil, err
	}
	for i, r := range rows {
		id, err := s.kr.DecryptRow(r.IDNumberEnc, r.KeyID, pii.AADRegistrationIDNumber, r.ID)
		if err != nil {
			return nil, errs.Internalf("%w", err)
		}
		phone, err := s.kr.DecryptRow(r.PhoneEnc, r.KeyID, pii.AADRegistrationPhone, r.ID)
		if r.PersonPhoneEnc != nil {
			phone, err = s.kr.DecryptRow(r.PersonPhoneEnc, r.PersonKeyID, pii.AADResidentPhone, r.ID)
		}
		if err != nil {
			return nil, errs.Internalf("%w", err)
		}
		if !full {
			id, phone = pii.MaskID(id), pii.MaskPhone(phone)
		}
		tier := ""
		if r.Tier.Valid {
			tier = strconv.FormatInt(r.Tier.Int64, 10)
		}
		when := r.CreatedAt
		status := exportReferred
		if r.DecidedAt.Valid {
			when, status = r.DecidedAt.Time, exportConfirmed
		}
		cells := []any{r.ID, r.PersonVillage, r.PersonName, id, phone, schemeNames[r.Scheme], tier, status, when.In(s.loc).Format(time.DateOnly), "", ""}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, cells); err != nil {
			return nil, err
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AnswerError is a row of the centre's answer that could not be applied.
type AnswerError struct {
	Row     int    `json:"row"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// AnswerResult says what an answer file changed.
type AnswerResult struct {
	RowsTotal int           `json:"rows_total"`
	Processed int           `json:"processed"`
	Refused   int           `json:"refused"`
	Unchanged int           `json:"unchanged"`
	Failed    int           `json:"rows_failed"`
	Errors    []AnswerError `json:"errors"`
}

// maxAnswerRows bounds one answer file.
const maxAnswerRows = 100_000

// cityAnswers applies the centre's answer file: the export with 办理结果 (已办理 or 未办理)
// and 原因 filled in. Processed referrals become confirmed (a new enrollment); refused
// registrations become rejected with the centre's reason, and the enrollment they counted is
// withdrawn. Each row is its own transaction, so good rows apply while bad ones are reported.
func (s *Service) cityAnswers(c *gin.Context) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return errs.Field(errs.InvalidInput, "file", "请上传社保中心反馈的 XLSX 文件")
	}
	src, err := fh.Open()
	if err != nil {
		return err
	}
	defer src.Close()
	ctx := c.Request.Context()
	// Refuse a zip bomb before anything is read, changed or audited.
	if err := xlsxcheck.Check(src, fh.Size, xlsxcheck.Default); err != nil {
		return err
	}
	res, err := s.ApplyCityAnswers(ctx, auth.MustPrincipal(c).ID, src, fh.Size)
	detail := fmt.Sprintf("rows=%d processed=%d refused=%d failed=%d", res.RowsTotal, res.Processed, res.Refused, res.Failed)
	result := audit.Success
	if err != nil {
		result = audit.Failure
	}
	// One audit row for the upload, whatever it changed; it is written even when the upload
	// stopped part way, since the rows before the failure were applied.
	if aerr := s.audit.Record(ctx, auth.AuditContext(c).Event("registration.city_answers", "registration", 0, result, detail)); aerr != nil {
		return aerr
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, res)
	return nil
}

// ApplyCityAnswers reads an answer workbook (size bytes in r) and applies it. A workbook whose
// parts would unpack past xlsxcheck.Default is refused before any is unpacked.
func (s *Service) ApplyCityAnswers(ctx context.Context, by int64, r io.ReaderAt, size int64) (AnswerResult, error) {
	if err := xlsxcheck.Check(r, size, xlsxcheck.Default); err != nil {
		return AnswerResult{}, err
	}
	opts := excelize.Options{
		UnzipXMLSizeLimit: xlsxcheck.Default.StreamAbove,
		UnzipSizeLimit:    xlsxcheck.Default.MaxTotal,
	}
	var f *excelize.File
	var err error
	if file, ok := r.(*os.File); ok {
		f, err = excelize.OpenFile(file.Name(), opts) // an upload kept on disk: not read into memory
	} else {
		f, err = excelize.OpenReader(io.NewSectionReader(r, 0, size), opts)
	}
	if err != nil {
		return AnswerResult{}, errs.Field(errs.InvalidInput, "file", "无法读取该文件，请上传 XLSX 格式的反馈表")
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetName(0))
	if err != nil {
		return AnswerResult{}, errs.Field(errs.InvalidInput, "file", "反馈表没有工作表")
	}
	defer rows.Close()
	res := AnswerResult{Errors: []AnswerError{}}
	col := map[string]int{}
	n := 0
	for rows.Next() {
		n++
		cells, err := rows.Columns()
		if err != nil {
			return res, errs.Field(errs.InvalidInput, "file", "反馈表格式不正确")
		}
		if n == 1 {
			for i, h := range cells {
				col[strings.TrimSpace(h)] = i
			}
			for _, need := range []string{"登记编号", "办理结果"} {
				if _, ok := col[need]; !ok {
					return res, errs.Field(errs.InvalidInput, "file", "反馈表缺少“"+need+"”列")
				}
			}
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(cells) {
				return strings.TrimSpace(cells[i])
			}
			return ""
		}
		if get("登记编号") == "" && get("办理结果") == "" {
			continue // blank line
		}
		res.RowsTotal++
		if res.RowsTotal > maxAnswerRows {
			return res, errs.Field(errs.InvalidInput, "file", "反馈表行数过多")
		}
		outcome, ferr, err := s.applyAnswer(ctx, by, get("登记编号"), get("办理结果"), get("原因"))
		if err != nil {
			return res, err // the database failed: stop; rows before this one are applied
		}
		if ferr != nil {
			res.Failed++
			if len(res.Errors) < 1000 {
				res.Errors = append(res.Errors, AnswerError{Row: n, Field: ferr.Field, Message: ferr.Message})
			}
			continue
		}
		switch outcome {
		case CityProcessed:
			res.Processed++
		case CityRefused:
			res.Refused++
		default:
			res.Unchanged++
		}
	}
	return res, nil
}

var (
	processedWords = map[string]bool{"已办理": true, "办理成功": true, CityProcessed: true, "成功": true}
	refusedWords   = map[string]bool{"未办理": true, "不予办理": true, "退回": true, CityRefused: true, "失败": true}
)

// applyAnswer applies one row. A problem with the row is returned as a field error naming the
// column at fault; a failure of the database as err.
func (s *Service) applyAnswer(ctx context.Context, by int64, idText, result, reason string) (string, *errs.Error, error) {
	id, to, ferr := parseAnswer(idText, result, reason)
	if ferr != nil {
		return "", ferr, nil
	}
	outcome, err := s.answer(ctx, by, id, to, reason)
	if err != nil {
		if e, ok := errs.As(err); ok && e.Field != "" {
			return "", e, nil
		}
		return "", nil, err
	}
	return outcome, nil, nil
}

// parseAnswer reads one row of the centre's answer: the registration's ID and its result
// (CityProcessed, or CityRefused with a reason).
func parseAnswer(idText, result, reason string) (int64, string, *errs.Error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", errs.Field(errs.InvalidInput, "登记编号", "登记编号应为正整数")
	}
	switch {
	case processedWords[result]:
		return id, CityProcessed, nil
	case refusedWords[result]:
		if reason == "" || utf8.RuneCountInString(reason) > 200 {
			return 0, "", errs.Field(errs.InvalidInput, "原因", "未办理的记录须填写原因（200 字以内）")
		}
		return id, CityRefused, nil
	default:
		return 0, "", errs.Field(errs.InvalidInput, "办理结果", "办理结果须为“已办理”或“未办理”")
	}
}

// answer applies the centre's answer to registration id in one transaction, and returns what
// it did: CityProcessed (a referral confirmed, a new enrollment), CityRefused (the registration
// rejected, its enrollment withdrawn) or answerUnchanged (a confirmation already counted). A
// registration the answer cannot apply to is a field error on 登记编号.
func (s *Service) answer(ctx context.Context, by, id int64, to, reason string) (string, error) {
	today := web.Today(s.now(), s.loc)
	now := database.Now()
	outcome := ""
	err := database.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		r, err := lockRegistration(ctx, tx, id)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.Field(errs.NotFound, "登记编号", "未找到该登记编号")
		}
		if err != nil {
			return err
		}
		switch {
		case r.Status == StatusReferred && to == CityProcessed:
			if err := decide(ctx, tx, id, StatusConfirmed, r.ResidentID, nil, by, now); err != nil {
				return err
			}
			village, err := residentVillage(ctx, tx, r.ResidentID)
			if err != nil {
				return err
			}
			if err := s.enroll(ctx, tx, r, village, today, now); err != nil {
				return err
			}
		case (r.Status == StatusReferred || r.Status == StatusConfirmed) && to == CityRefused:
			if err := decide(ctx, tx, id, StatusRejected, nil, rejectReasonOf(reason), by, now); err != nil {
				return err
			}
			revoked, err := enrollment.Revoke(ctx, tx, r.ResidentID, enrollment.SourceRegistration, r.ID)
			if err != nil {
				return err
			}
			if revoked {
				if err := roster.Unenroll(ctx, tx, r.ResidentID, r.Scheme, today, now); err != nil {
					return database.Map(err)
				}
			}
		case r.Status == StatusConfirmed && to == CityProcessed:
			// Already counted; only the centre's answer is recorded.
		default:
			return errs.Field(codeNotOpen, "登记编号", "该登记当前状态不能按此结果处理")
		}
		if r.Status == StatusConfirmed && to == CityProcessed && r.DecidedAt.Valid {
			outcome = answerUnchanged
		} else {
			outcome = to
		}
		return recordCityAnswer(ctx, tx, id, to, reason, now)
	})
	if err != nil {
		return "", err
	}
	return outcome, nil
}

// rejectReasonOf is the reject reason shown for a refusal by the city: its reason (up to 200
// characters, kept whole in city_reason) after a prefix, cut to the 200 characters of
// registrations.reject_reason.
func rejectReasonOf(cityReason string) string {
	s := "社保中心反馈：" + cityReason
	if utf8.RuneCountInString(s) <= 200 {
		return s
	}
	return string([]rune(s)[:199]) + "…"
}
