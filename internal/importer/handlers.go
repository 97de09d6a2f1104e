package importer

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Content types of the files this area serves.
const (
	contentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	contentTypeCSV  = "text/csv; charset=utf-8"
)

// Routes registers the import endpoints, all for admins (the labour office).
func (im *Importer) Routes(r *auth.Router) {
	admin := auth.Allow(auth.RoleAdmin)
	r.Handle(http.MethodPost, UploadRoute, admin, r.Idempotent(), web.H(im.create))
	r.Handle(http.MethodGet, UploadRoute+"/template", admin, web.H(im.template))
	r.Handle(http.MethodGet, UploadRoute+"/:id", admin, web.H(im.status))
	r.Handle(http.MethodGet, UploadRoute+"/:id/errors.xlsx", admin, web.H(im.errorReport))
}

// upload is a roster file received from the API, saved to a temporary file.
type upload struct {
	path   string
	name   string
	size   int64
	format Format
}

// create takes a multipart upload (`file`, optional `format`), records the import and runs it
// in the background: 202 with its id.
func (im *Importer) create(c *gin.Context) error {
	p := auth.MustPrincipal(c)
	up, err := receive(c)
	if err != nil {
		return err
	}
	actx := auth.AuditContext(c)
	createdBy := p.ID
	// The file goes to the database (import_chunks) with the import's row, in one transaction;
	// the local copy goes at once. Any instance may run it (shared.go).
	id, err := im.enqueueUpload(c.Request.Context(), actx, &createdBy, up)
	_ = os.Remove(up.path)
	if err != nil {
		return err
	}
	if !im.receiveOnly {
		im.background(id, &actx)
	}
	c.Header("Location", fmt.Sprintf("%s/%d", UploadRoute, id))
	c.JSON(http.StatusAccepted, gin.H{"id": id})
	return nil
}

var (
	errNotMultipart = errs.Field(errs.InvalidInput, "file", "请以 multipart/form-data 格式上传花名册文件（字段名 file）")
	errNoFile       = errs.Field(errs.InvalidInput, "file", "请选择要上传的花名册文件（字段名 file）")
	errEmptyFile    = errs.Field(errs.InvalidInput, "file", "上传的文件是空的")
	errBadFormat    = errs.Field(errs.InvalidInput, "format", "format 只能是 csv 或 xlsx")
	errTooLarge     = errs.New(errs.BodyTooLarge, "上传的文件过大")
)

// receive streams the multipart body to a temporary file and settles the file's format.
func receive(c *gin.Context) (up upload, err error) {
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return up, errNotMultipart
	}
	var explicit string
	defer func() {
		if err != nil && up.path != "" {
			_ = os.Remove(up.path)
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return up, partError(err)
		}
		switch part.FormName() {
		case "file":
			if up.path != "" {
				return up, errs.Field(errs.InvalidInput, "file", "一次只能上传一个文件")
			}
			up.name = part.FileName()
			if up.path, up.size, err = saveTemp(part); err != nil {
				return up, err
			}
		case "format":
			b, err := io.ReadAll(io.LimitReader(part, 16))
			if err != nil {
				return up, partError(err)
			}
			explicit = string(b)
		default:
			return up, errs.Field(errs.UnknownField, part.FormName(), "不允许的字段："+part.FormName())
		}
	}
	if up.path == "" {
		return up, errNoFile
	}
	if up.size == 0 {
		return up, errEmptyFile
	}
	var ok bool
	if explicit != "" {
		if up.format, ok = ParseFormat(explicit); !ok {
			return up, errBadFormat
		}
	} else if up.format, ok = FormatOf(up.name); !ok {
		return up, errUnsupportedFormat
	}
	return up, sniff(up)
}

func partError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return errTooLarge
	}
	return errs.Wrap(errs.InvalidInput, err, "上传内容格式不正确，无法读取文件")
}

// saveTemp copies an uploaded file to the imports' temporary folder.
func saveTemp(part *multipart.Part) (string, int64, error) {
	f, err := os.CreateTemp(tempDir(), "upload-*")
	if err != nil {
		return "", 0, errs.Internalf("importer: temp file: %w", err)
	}
	n, err := io.Copy(f, part)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return "", 0, errTooLarge
		}
		return "", 0, errs.Wrap(errs.InvalidInput, err, "上传中断，请重新上传")
	}
	return f.Name(), n, nil
}

// Magic numbers of spreadsheet files.
var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0}
)

// sniff refuses a file whose content is plainly not its format, before anything is queued.
func sniff(up upload) error {
	f, err := os.Open(up.path)
	if err != nil {
		return errs.Internalf("importer: %w", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, oleMagic):
		return errs.Field(errs.InvalidInput, "file", "不支持旧版 Excel（.xls）或加密的工作簿，请另存为 .xlsx 后上传")
	case up.format == FormatXLSX && !bytes.HasPrefix(head, zipMagic):
		return errs.Field(errs.InvalidInput, "file", "文件不是有效的 XLSX 工作簿")
	case up.format == FormatCSV && bytes.HasPrefix(head, zipMagic):
		return errs.Field(errs.InvalidInput, "file", "文件内容是 Excel 工作簿，请使用 .xlsx 扩展名或 format=xlsx 上传")
	case up.format == FormatXLSX:
		// A zip bomb is refused now, before anything is queued.
		return checkXLSX(up.path)
	}
	return nil
}

// Status is what GET /api/v1/admin/imports/{id} answers.
type Status struct {
	ID            int64      `json:"id"`
	Status        string     `json:"status"`
	Format        string     `json:"format"`
	RowsTotal     int        `json:"rows_total"`
	RowsDone      int        `json:"rows_done"`
	RowsFailed    int        `json:"rows_failed"`
	RowsCreated   int        `json:"rows_created"`
	RowsUpdated   int        `json:"rows_updated"`
	RowsUnchanged int        `json:"rows_unchanged"`
	RowsEnrolled  int        `json:"rows_enrolled"`
	Error         *string    `json:"error"`
	Errors        []RowError `json:"errors"`
	CreatedAt     time.Time  `json:"created_at"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
}

type importRow struct {
	ID            int64         `db:"id"`
	Status        string        `db:"status"`
	Format        string        `db:"file_format"`
	RowsTotal     int           `db:"rows_total"`
	RowsDone      int           `db:"rows_done"`
	RowsFailed    int           `db:"rows_failed"`
	RowsCreated   int           `db:"rows_created"`
	RowsUpdated   int           `db:"rows_updated"`
	RowsUnchanged int           `db:"rows_unchanged"`
	RowsEnrolled  int           `db:"rows_enrolled"`
	Error         string        `db:"error"`
	CreatedBy     sql.NullInt64 `db:"created_by"`
	CreatedAt     time.Time     `db:"created_at"`
	StartedAt     sql.NullTime  `db:"started_at"`
	FinishedAt    sql.NullTime  `db:"finished_at"`
	UpdatedAt     time.Time     `db:"updated_at"`
}

type errorRow struct {
	Row     int            `db:"row_no"`
	Field   sql.NullString `db:"field"`
	Message string         `db:"message"`
}

// Status reads an import's progress and its first 1000 failed rows; errs.ErrNotFound when
// there is no such import.
func (im *Importer) Status(ctx context.Context, id int64) (Status, error) {
	var r importRow
	if err := im.db.GetContext(ctx, &r, Queries.Get("import-by-id"), id); err != nil {
		return Status{}, database.Map(err)
	}
	var rows []errorRow
	if err := im.db.SelectContext(ctx, &rows, Queries.Get("import-errors-first"), id); err != nil {
		return Status{}, database.Map(err)
	}
	st := Status{ID: r.ID, Status: r.Status, Format: r.Format, RowsTotal: r.RowsTotal, RowsDone: r.RowsDone,
		RowsFailed: r.RowsFailed, RowsCreated: r.RowsCreated, RowsUpdated: r.RowsUpdated, RowsUnchanged: r.RowsUnchanged,
		RowsEnrolled: r.RowsEnrolled, CreatedAt: r.CreatedAt, Errors: make([]RowError, 0, len(rows))}
	if r.Error != "" {
		st.Error = &r.Error
	}
	if r.StartedAt.Valid {
		st.StartedAt = &r.StartedAt.Time
	}
	if r.FinishedAt.Valid {
		st.FinishedAt = &r.FinishedAt.Time
	}
	for _, e := range rows {
		st.Errors = append(st.Errors, RowError{Row: e.Row, Field: e.Field.String, Message: e.Message})
	}
	return st, nil
}

func (im *Importer) status(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	st, err := im.Status(c.Request.Context(), id)
	if errors.Is(err, errs.ErrNotFound) {
		return errs.ErrNotFoundPublic
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

// errorReport serves every failed row of an import as XLSX: row number, column, message; never
// the row's data.
func (im *Importer) errorReport(c *gin.Context) error {
	id, err := auth.PathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	var n int
	if err := im.db.GetContext(ctx, &n, Queries.Get("import-exists"), id); err != nil {
		return database.Map(err)
	}
	if n == 0 {
		return errs.ErrNotFoundPublic
	}
	var buf bytes.Buffer
	rows, err := im.writeErrorReport(ctx, id, &buf)
	if err != nil {
		return err
	}
	if err := im.audit.Record(ctx, auth.AuditContext(c).Event(ActionExportErrors, auditObject, id, audit.Success,
		fmt.Sprintf("rows=%d", rows))); err != nil {
		return err
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="import-%d-errors.xlsx"`, id))
	c.Data(http.StatusOK, contentTypeXLSX, buf.Bytes())
	return nil
}

// template serves the roster template: the header and one example row, as XLSX or CSV.
func (im *Importer) template(c *gin.Context) error {
	f := FormatXLSX
	if s := c.Query("format"); s != "" {
		var ok bool
		if f, ok = ParseFormat(s); !ok {
			return errBadFormat
		}
	}
	vills, err := im.villageList(c.Request.Context())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if f == FormatCSV {
		if err := writeCSVTemplate(&buf, vills); err != nil {
			return err
		}
		c.Header("Content-Disposition", `attachment; filename="roster-template.csv"`)
		c.Data(http.StatusOK, contentTypeCSV, buf.Bytes())
		return nil
	}
	if err := writeXLSXTemplate(&buf, vills); err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="roster-template.xlsx"`)
	c.Data(http.StatusOK, contentTypeXLSX, buf.Bytes())
	return nil
}

// villageEntry is a village for the template's notes.
type villageEntry struct {
	Code string `db:"code"`
	Name string `db:"name"`
}

func (im *Importer) villageList(ctx context.Context) ([]villageEntry, error) {
	var v []villageEntry
	if err := im.db.SelectContext(ctx, &v, Queries.Get("villages-all")); err != nil {
		return nil, database.Map(err)
	}
	return v, nil
}
