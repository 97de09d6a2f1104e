package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/xlsxcheck"
)

// Format is the kind of a roster file.
type Format string

// The formats the importer reads.
const (
	FormatCSV  Format = "csv"
	FormatXLSX Format = "xlsx"
)

// ParseFormat reads an explicit format argument ("csv", "xlsx", any case, with or without a dot).
func ParseFormat(s string) (Format, bool) {
	switch Format(strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "."))) {
	case FormatCSV:
		return FormatCSV, true
	case FormatXLSX:
		return FormatXLSX, true
	}
	return "", false
}

// FormatOf chooses the format from a file name's extension.
func FormatOf(name string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".txt":
		return FormatCSV, true
	case ".xlsx":
		return FormatXLSX, true
	}
	return "", false
}

var errUnsupportedFormat = errs.Field(errs.InvalidInput, "file", "仅支持 CSV（.csv）或 Excel（.xlsx）文件；.xls 请先另存为 .xlsx")

// Limits of XLSX reading: a worksheet or shared-string table larger than xlsxInMemory is
// unpacked to a temporary file and streamed from there, so memory does not grow with the file;
// xlsxLimits (checked before excelize opens the file) refuses archives whose parts unpack to
// more than a roster needs (zip bombs).
const xlsxInMemory = 1 << 20

var xlsxLimits = func() xlsxcheck.Limits {
	l := xlsxcheck.Default
	l.StreamAbove = xlsxInMemory
	return l
}()

// Caps of one row, whatever the format. A CSV record longer than maxRecordBytes, a cell
// longer than maxCellBytes or a row with more than maxColumns columns (up to its last
// non-empty cell) stops the import: no roster has them, and a file that does is broken or
// built to exhaust the server.
const (
	maxRecordBytes = 64 << 10
	maxCellBytes   = 1 << 10
	maxColumns     = 128
)

// checkRow applies the cell and column caps to row number row.
func checkRow(row int, cells []string) error {
	last := len(cells) - 1
	for last >= 0 && strings.TrimSpace(cells[last]) == "" {
		last--
	}
	if last+1 > maxColumns {
		return errs.Field(errs.InvalidInput, "file", fmt.Sprintf("第 %d 行的列数超过 %d 列，请删除多余的列后重新导入", row, maxColumns))
	}
	for i, c := range cells {
		if len(c) > maxCellBytes {
			col, _ := excelize.ColumnNumberToName(i + 1)
			return errs.Field(errs.InvalidInput, "file", fmt.Sprintf("第 %d 行 %s 列的内容过长（超过 %d 字节），请检查文件", row, col, maxCellBytes))
		}
	}
	return nil
}

// rowReader yields a file's rows one at a time.
type rowReader interface {
	// Next returns the next row's 1-based number in the file and its cells; io.EOF at the end.
	// The cells are valid until the next call.
	Next() (int, []string, error)
	// Read is how many bytes of the file were consumed so far (0 when unknown).
	Read() int64
	Close() error
}

// openRows opens a roster file of the given format.
func openRows(path string, format Format, tmpDir string) (rowReader, error) {
	switch format {
	case FormatCSV:
		return openCSV(path)
	case FormatXLSX:
		return openXLSX(path, tmpDir)
	}
	return nil, errUnsupportedFormat
}

// csvRows reads CSV: UTF-8 (a BOM is skipped) or, when the file is not valid UTF-8, GB18030
// (what Chinese Excel saves as "CSV"). Comma-separated, or tab-separated when the header has
// tabs and no commas.
//
// Row numbers are what a spreadsheet shows: one per record (even when a quoted cell spans
// lines) and one per blank line, which encoding/csv skips silently.
type csvRows struct {
	f       *os.File
	cnt     *countingReader
	budget  *recordBudget
	r       *csv.Reader
	row     int
	endLine int // the file line the previous record ended on
	done    bool
}

func openCSV(path string) (*csvRows, error) {
	utf8OK, err := isUTF8File(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	cnt := &countingReader{r: f}
	var src io.Reader = cnt
	if !utf8OK {
		src = transform.NewReader(cnt, simplifiedchinese.GB18030.NewDecoder())
	}
	budget := &recordBudget{r: src}
	budget.reset()
	br := bufio.NewReaderSize(budget, csvBuffer)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	r := csv.NewReader(br)
	if first, _ := br.Peek(4096); len(first) > 0 {
		line, _, _ := bytes.Cut(first, []byte{'\n'})
		if bytes.IndexByte(line, ',') < 0 && bytes.IndexByte(line, '\t') >= 0 {
			r.Comma = '\t'
		}
	}
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	return &csvRows{f: f, cnt: cnt, budget: budget, r: r}, nil
}

// csvBuffer is the read-ahead of the CSV reader.
const csvBuffer = 64 << 10

// recordBudget bounds what one CSV record may draw from the file: Next resets it before each
// record, and a read past the allowance fails with errRecordTooLong. The bufio.Reader in front
// reads ahead at most csvBuffer bytes, so a record up to maxRecordBytes (its lines included,
// when a quoted cell spans lines) never trips it, and encoding/csv never buffers more than
// the allowance of a longer one.
type recordBudget struct {
	r    io.Reader
	left int
}

var errRecordTooLong = errors.New("importer: csv record too long")

func (b *recordBudget) reset() { b.left = maxRecordBytes + 2*csvBuffer }

func (b *recordBudget) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errRecordTooLong
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

func (c *csvRows) Next() (int, []string, error) {
	if c.done {
		return c.row, nil, io.EOF
	}
	c.budget.reset()
	rec, err := c.r.Read()
	if errors.Is(err, errRecordTooLong) {
		c.done = true
		return c.row + 1, nil, errs.Field(errs.InvalidInput, "file", fmt.Sprintf("CSV 文件第 %d 行之后有一行超过 %d KB，不是正常的花名册，无法读取", c.row, maxRecordBytes>>10))
	}
	if errors.Is(err, io.EOF) {
		c.done = true
		return c.row, nil, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return c.row + 1, nil, errs.New(errs.InvalidInput, fmt.Sprintf("CSV 文件第 %d 行格式不正确，无法继续读取", c.row+1+max(0, pe.StartLine-c.endLine-1)))
		}
		return c.row + 1, nil, err
	}
	start, _ := c.r.FieldPos(0)
	last, _ := c.r.FieldPos(len(rec) - 1)
	c.row += 1 + max(0, start-c.endLine-1)
	c.endLine = last + strings.Count(rec[len(rec)-1], "\n")
	if err := checkRow(c.row, rec); err != nil {
		c.done = true
		return c.row, nil, err
	}
	return c.row, rec, nil
}

func (c *csvRows) Read() int64 { return c.cnt.n }

func (c *csvRows) Close() error { return c.f.Close() }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// isUTF8File reports whether the file is valid UTF-8, reading it in chunks.
func isUTF8File(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	carry := 0 // bytes of an incomplete rune kept at the start of buf
	for {
		n, err := f.Read(buf[carry:])
		n += carry
		chunk := buf[:n]
		carry = 0
		if err == nil {
			// Keep a rune cut by the chunk's end for the next round.
			for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
				if utf8.RuneStart(chunk[i]) {
					if !utf8.FullRune(chunk[i:]) {
						carry = n - i
						chunk = chunk[:i]
					}
					break
				}
			}
		}
		if !utf8.Valid(chunk) {
			return false, nil
		}
		copy(buf, buf[n-carry:n])
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// xlsxRows streams the first worksheet of an XLSX file with excelize's row iterator.
type xlsxRows struct {
	f    *excelize.File
	rows *excelize.Rows
	row  int
}

func openXLSX(path, tmpDir string) (*xlsxRows, error) {
	if err := checkXLSX(path); err != nil {
		return nil, err
	}
	f, err := excelize.OpenFile(path, excelize.Options{
		RawCellValue:      true,
		UnzipXMLSizeLimit: xlsxInMemory,
		UnzipSizeLimit:    xlsxLimits.MaxTotal,
		TmpDir:            tmpDir,
	})
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, errs.Wrap(errs.InvalidInput, err, "无法读取 XLSX 文件：文件已损坏、加了密码或不是 Excel 2007 及以上版本的工作簿")
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, errs.New(errs.InvalidInput, "XLSX 文件中没有工作表")
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, errs.Wrap(errs.InvalidInput, err, "无法读取 XLSX 文件的第一个工作表")
	}
	return &xlsxRows{f: f, rows: rows}, nil
}

func (x *xlsxRows) Next() (int, []string, error) {
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			return x.row, nil, errs.Wrap(errs.InvalidInput, err, "XLSX 文件内容有误，无法继续读取")
		}
		return x.row, nil, io.EOF
	}
	x.row++
	cells, err := x.rows.Columns()
	if err != nil {
		return x.row, nil, errs.Wrap(errs.InvalidInput, err, fmt.Sprintf("XLSX 文件第 %d 行内容有误，无法继续读取", x.row))
	}
	if err := checkRow(x.row, cells); err != nil {
		return x.row, nil, err
	}
	return x.row, cells, nil
}

func (x *xlsxRows) Read() int64 { return 0 }

// checkXLSX refuses a workbook whose parts would unpack past xlsxLimits, before excelize
// unpacks any of them.
func checkXLSX(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return xlsxcheck.Check(f, fi.Size(), xlsxLimits)
}

func (x *xlsxRows) Close() error {
	err := x.rows.Close()
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// countDataRows counts the non-blank rows after the header: the import's rows_total.
func countDataRows(path string, format Format, tmpDir string) (int, error) {
	rr, err := openRows(path, format, tmpDir)
	if err != nil {
		return 0, err
	}
	defer rr.Close()
	n := 0
	for {
		row, cells, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if row > 1 && !blankRow(cells) {
			n++
		}
	}
}
