package importer_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/xlsxcheck/xlsxchecktest"
	"github.com/canbao/canbao/internal/server/servertest"
)

// bombBudget is what handling one bomb may allocate, all told.
const bombBudget = 256 << 20

var bombRoster = [][]any{
	{"身份证号码", "姓名", "村居", "参保状态"},
	{idAged(40, idcard.Male, 1), "林志强", "振兴村", "未参保"},
}

// longLineCSV writes a CSV roster of a header, one good row and a line of lineBytes bytes of
// one-letter cells ("x,x,x,…"); gb18030 makes the file GB18030 (not UTF-8).
func longLineCSV(t *testing.T, dir string, lineBytes int, gb18030 bool) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("long-%d-%t.csv", lineBytes, gb18030))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	head := "身份证号码,姓名,村居,参保状态\n" + idAged(40, idcard.Male, 1) + ",林志强,振兴村,未参保\n"
	if gb18030 {
		enc, err := simplifiedchinese.GB18030.NewEncoder().String(head)
		if err != nil {
			t.Fatal(err)
		}
		head = enc
	}
	w.WriteString(head)
	chunk := bytes.Repeat([]byte("x,"), 1<<19)
	for left := lineBytes; left > 0; left -= len(chunk) {
		w.Write(chunk[:min(left, len(chunk))])
	}
	w.WriteString("\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertNothingImported checks that a refused import wrote no resident and no row error.
func assertNothingImported(t *testing.T, e *storeEnv) {
	t.Helper()
	if n := e.count(`SELECT COUNT(*) FROM residents`); n != 0 {
		t.Errorf("%d residents written", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM roster_import_errors`); n != 0 {
		t.Errorf("%d row errors written", n)
	}
}

func TestXLSXZipBombIsRefused(t *testing.T) {
	e := newStore(t)
	path := xlsxchecktest.Bomb(t, bombRoster, xlsxchecktest.GiB)
	var res importer.Result
	var err error
	alloc := xlsxchecktest.Allocated(t, func() { res, err = importer.RunFile(context.Background(), e.im, path, nil) })
	t.Logf("1 GiB extra part: allocated %d MiB", alloc>>20)
	ee, ok := errs.As(err)
	if !ok || ee.Code != errs.BodyTooLarge || !strings.Contains(ee.Message, "解压后过大") {
		t.Fatalf("err = %v", err)
	}
	if alloc > bombBudget {
		t.Errorf("allocated %d MiB handling the bomb", alloc>>20)
	}
	var status string
	if err := e.db.Get(&status, `SELECT status FROM roster_imports WHERE id = ?`, res.ImportID); err != nil || status != importer.ImportFailed {
		t.Errorf("import %d: %q %v", res.ImportID, status, err)
	}
	assertNothingImported(t, e)
}

// A part that declares 1 KiB and inflates to 256 MiB is cut at its declared size by
// archive/zip: opening the workbook stays cheap and the roster imports.
func TestXLSXPartLyingAboutItsSizeStaysBounded(t *testing.T) {
	e := newStore(t)
	path := e.file("lying.xlsx", xlsxchecktest.LyingPart(t, bombRoster, 256<<20))
	var res importer.Result
	var err error
	alloc := xlsxchecktest.Allocated(t, func() { res, err = importer.RunFile(context.Background(), e.im, path, nil) })
	if alloc > bombBudget {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
	if err != nil || res.Created != 1 {
		t.Errorf("res = %+v, err = %v", res, err)
	}
}

func TestCSVLongLineIsRefused(t *testing.T) {
	for _, gb := range []bool{false, true} {
		t.Run(fmt.Sprintf("gb18030=%t", gb), func(t *testing.T) {
			e := newStore(t)
			path := longLineCSV(t, e.dir, 60<<20, gb)
			var err error
			alloc := xlsxchecktest.Allocated(t, func() { _, err = importer.RunFile(context.Background(), e.im, path, nil) })
			t.Logf("60 MiB line: allocated %d MiB", alloc>>20)
			ee, ok := errs.As(err)
			if !ok || ee.Code != errs.InvalidInput || !strings.Contains(ee.Message, "超过 64 KB") {
				t.Fatalf("err = %v", err)
			}
			if alloc > bombBudget {
				t.Errorf("allocated %d MiB handling a 60 MiB line", alloc>>20)
			}
			assertNothingImported(t, e)
		})
	}
}

func TestRowCaps(t *testing.T) {
	id := idAged(40, idcard.Male, 1)
	wide := make([]string, 200)
	wide[0], wide[1], wide[2], wide[3], wide[199] = id, "林志强", "振兴村", "未参保", "x"
	for name, c := range map[string]struct {
		rows [][]string
		want string
	}{
		"long cell":    {[][]string{{"身份证号码", "姓名", "村居", "参保状态", "备注"}, {id, "林志强", "振兴村", "未参保", strings.Repeat("长", 400)}}, "第 2 行 E 列的内容过长"},
		"many columns": {[][]string{{"身份证号码", "姓名", "村居", "参保状态"}, wide}, "第 2 行的列数超过 128 列"},
	} {
		for _, format := range []string{"csv", "xlsx"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				e := newStore(t)
				content := csvOf(c.rows)
				if format == "xlsx" {
					content = xlsxOf(t, c.rows)
				}
				_, err := importer.RunFile(context.Background(), e.im, e.file("roster."+format, content), nil)
				if ee, ok := errs.As(err); !ok || ee.Code != errs.InvalidInput || !strings.Contains(ee.Message, c.want) {
					t.Fatalf("err = %v", err)
				}
				assertNothingImported(t, e)
			})
		}
	}
	// Trailing empty columns, as spreadsheets save them, are not counted.
	e := newStore(t)
	trailing := append([]string{id, "林志强", "振兴村", "未参保"}, make([]string, 300)...)
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", csvOf([][]string{{"身份证号码", "姓名", "村居", "参保状态"}, trailing})), nil)
	if err != nil || res.Created != 1 {
		t.Errorf("trailing empty columns: %+v %v", res, err)
	}
}

func TestAPIImportBombs(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")

	bomb, err := os.ReadFile(xlsxchecktest.Bomb(t, bombRoster, xlsxchecktest.GiB))
	if err != nil {
		t.Fatal(err)
	}
	var w *servertest.Response
	alloc := xlsxchecktest.Allocated(t, func() { w = upload(env, admin, "roster.xlsx", bomb, nil, nil) })
	t.Logf("XLSX bomb upload: %d, allocated %d MiB", w.Code, alloc>>20)
	if w.Code != http.StatusRequestEntityTooLarge || w.ErrorCode() != string(errs.BodyTooLarge) || w.ErrorField() != "file" {
		t.Fatalf("XLSX bomb: %d %s", w.Code, w.Body)
	}
	if alloc > bombBudget {
		t.Errorf("allocated %d MiB handling the upload", alloc>>20)
	}
	if n := env.Count(`SELECT COUNT(*) FROM roster_imports`); n != 0 {
		t.Errorf("%d imports recorded for the bomb", n)
	}

	long, err := os.ReadFile(longLineCSV(t, t.TempDir(), 60<<20, false))
	if err != nil {
		t.Fatal(err)
	}
	w = upload(env, admin, "roster.csv", long, nil, nil)
	long = nil
	if w.Code != http.StatusAccepted {
		t.Fatalf("long-line CSV: %d %s", w.Code, w.Body)
	}
	var created struct{ ID int64 }
	w.JSON(t, &created)
	st := waitDone(t, env, admin, created.ID)
	if st.Status != importer.ImportFailed || st.Error == nil || !strings.Contains(*st.Error, "超过 64 KB") {
		t.Errorf("long-line CSV import: %+v", st)
	}
	if n := env.Count(`SELECT COUNT(*) FROM residents`); n != 0 {
		t.Errorf("%d residents written", n)
	}
}
