package importer_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/errs"
)

// people of the mixed roster.
type mixed struct {
	rows                  [][]string
	a, b, c, d18, d15, e  string // good rows' ID numbers (d15 is d18 in its legacy form; e ends in x)
	wantErrors            []string
	wantTotal, wantFailed int
}

// mixedRoster has good rows, one bad row of every kind and header aliases in a free order,
// with an unknown column and a blank row.
func mixedRoster() mixed {
	m := mixed{
		a:   idAged(30, idcard.Male, 1),
		b:   idAged(45, idcard.Female, 2),
		c:   idAged(25, idcard.Male, 3),
		d18: idAged(50, idcard.Female, 4),
	}
	m.d15 = m.d18[:6] + m.d18[8:17]
	for seq := 10; seq < 500; seq++ {
		if id := idAged(35, idcard.Female, seq); strings.HasSuffix(id, "X") {
			m.e = id
			break
		}
	}
	m.rows = [][]string{
		{"姓名", "id_number", "性别", "phone", "村居", "employed", "是否被征地农民", "参保状态", "备注"},
		{"林志强", m.a, "男", "13800000001", "振兴村", "是", "否", "未参保", "x"},                           // 2 good
		{"陈美玲", m.b, "", "", "luoxi", "0", "1", "城乡居民基本养老保险", ""},                               // 3 good
		{"黄建国", badChecksum(idAged(33, idcard.Male, 5)), "男", "", "振兴村", "", "", "未参保", ""},     // 4 id_number
		{"王小明", idAged(34, idcard.Male, 6), "", "", "不存在村", "", "", "未参保", ""},                  // 5 village
		{"李芳", idAged(36, idcard.Female, 7), "女", "1380000", "振兴村", "", "", "未参保", ""},          // 6 phone
		{"张伟", idAged(37, idcard.Male, 8), "", "", "振兴村", "", "", "已参保", ""},                    // 7 status
		{"刘丽", idAged(38, idcard.Female, 9), "男", "", "振兴村", "", "", "未参保", ""},                 // 8 gender
		{"", idAged(39, idcard.Male, 11), "", "", "振兴村", "", "", "未参保", ""},                     // 9 name
		{"林志强", m.a, "男", "13800000002", "罗溪村", "否", "否", "未参保", ""},                            // 10 duplicate of row 2
		{"吴刚", m.c, "male", "13900000003", "zhenxing", "true", "false", "employee_pension", ""}, // 11 good
		{}, // 12 blank: skipped
		{"郑秀英", m.d15, "女", "", "罗溪村", "", "", "暂缓", ""},                                   // 13 good (legacy ID)
		{"周敏", strings.ToLower(m.e), "", "159 0000 0004", "振兴村", "Y", "N", "企业职工养老保险", ""}, // 14 good (lower-case x)
		{"孙浩", idAged(41, idcard.Male, 12), "", "", "振兴村", "也许", "", "未参保", ""},            // 15 employed
	}
	m.wantErrors = []string{"4:id_number", "5:village", "6:phone", "7:status", "8:gender", "9:name", "10:id_number", "15:employed"}
	m.wantTotal, m.wantFailed = 13, 8
	return m
}

func checkMixedResult(t *testing.T, e *storeEnv, m mixed, res importer.Result) {
	t.Helper()
	if res.RowsTotal != m.wantTotal || res.RowsDone != m.wantTotal || res.RowsFailed != m.wantFailed ||
		res.Created != 5 || res.Updated != 0 || res.Unchanged != 0 || res.Enrolled != 0 {
		t.Errorf("result = %+v, want total=done=%d failed=%d created=5", res, m.wantTotal, m.wantFailed)
	}
	if got := errorPairs(res.Errors); !slices.Equal(got, m.wantErrors) {
		t.Errorf("errors = %v, want %v", got, m.wantErrors)
	}
	for _, re := range res.Errors {
		if re.Message == "" || pii.ContainsPII(re.Message) {
			t.Errorf("row %d: message %q", re.Row, re.Message)
		}
	}
	if res.Errors[6].Message != "与第 2 行身份证号码重复" {
		t.Errorf("duplicate message = %q", res.Errors[6].Message)
	}
	if res.Errors[0].Message != "身份证号码校验位不正确" {
		t.Errorf("checksum message = %q", res.Errors[0].Message)
	}

	// Exactly the good rows, with the right values; nothing of the bad ones.
	got := e.residents()
	if len(got) != 5 {
		t.Fatalf("%d residents, want 5: %v", len(got), got)
	}
	want := map[string]resident{
		m.a:   {Name: "林志强", Gender: "male", Phone: "13800000001", Village: "zhenxing", Employed: true, Status: "unenrolled"},
		m.b:   {Name: "陈美玲", Gender: "female", Village: "luoxi", Land: true, Status: "resident_pension"},
		m.c:   {Name: "吴刚", Gender: "male", Phone: "13900000003", Village: "zhenxing", Employed: true, Status: "employee_pension"},
		m.d18: {Name: "郑秀英", Gender: "female", Village: "luoxi", Status: "exempt"},
		m.e:   {Name: "周敏", Gender: "female", Phone: "15900000004", Village: "zhenxing", Employed: true, Status: "employee_pension"},
	}
	for id, w := range want {
		r, ok := got[id]
		if !ok {
			t.Errorf("resident %s missing", pii.MaskID(id))
			continue
		}
		p, _ := idcard.Parse(id, time.Now())
		if r.Name != w.Name || r.Gender != w.Gender || r.Phone != w.Phone || r.Village != w.Village ||
			r.Employed != w.Employed || r.Land != w.Land || r.Status != w.Status || r.Source != "import" ||
			r.Birth != p.Birth.Format(time.DateOnly) || !r.PhoneBidxMatches || r.StatusChangedOn != "" {
			t.Errorf("resident %s = %+v, want %+v", pii.MaskID(id), r, w)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM roster_import_errors WHERE import_id = ?`, res.ImportID); n != m.wantFailed {
		t.Errorf("%d stored errors, want %d", n, m.wantFailed)
	}
	var st struct {
		Status                                             string `db:"status"`
		Total, Done, Failed, Created, Updated, Unch, Enrol int
	}
	if err := e.db.QueryRow(`SELECT status, rows_total, rows_done, rows_failed, rows_created, rows_updated, rows_unchanged,
		rows_enrolled FROM roster_imports WHERE id = ?`, res.ImportID).Scan(&st.Status, &st.Total, &st.Done, &st.Failed,
		&st.Created, &st.Updated, &st.Unch, &st.Enrol); err != nil {
		t.Fatal(err)
	}
	if st.Status != "completed" || st.Total != m.wantTotal || st.Done != m.wantTotal || st.Failed != m.wantFailed || st.Created != 5 {
		t.Errorf("roster_imports = %+v", st)
	}
	if n := e.count(`SELECT COUNT(*) FROM enrollments`); n != 0 {
		t.Errorf("%d enrollments, want 0 (people first seen insured are not new enrollments)", n)
	}
}

func TestImportCSVGoodBadDuplicateRows(t *testing.T) {
	e := newStore(t)
	m := mixedRoster()
	var bar bytes.Buffer
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", csvOf(m.rows)), &bar)
	if err != nil {
		t.Fatal(err)
	}
	checkMixedResult(t, e, m, res)
	if !strings.Contains(bar.String(), "导入花名册") || !strings.Contains(bar.String(), "100%") {
		t.Errorf("progress bar: %q", bar.String())
	}
	if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE object_id = ? AND action IN ('import.create','import.complete') AND actor_kind = 'system'`,
		res.ImportID); n != 2 {
		t.Errorf("%d audit rows, want import.create and import.complete", n)
	}
	// The stored status says the same.
	st, err := e.im.Status(context.Background(), res.ImportID)
	if err != nil {
		t.Fatal(err)
	}
	if got := errorPairs(st.Errors); !slices.Equal(got, m.wantErrors) || st.Status != "completed" || st.Error != nil {
		t.Errorf("status = %+v", st)
	}
}

func TestImportSameFileTwiceChangesNothing(t *testing.T) {
	e := newStore(t)
	m := mixedRoster()
	path := e.file("roster.csv", csvOf(m.rows))
	if _, err := importer.RunFile(context.Background(), e.im, path, nil); err != nil {
		t.Fatal(err)
	}
	before := e.residents()
	time.Sleep(5 * time.Millisecond) // an update would show a later updated_at
	res, err := importer.RunFile(context.Background(), e.im, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged != 5 || res.Created != 0 || res.Updated != 0 || res.Enrolled != 0 || res.RowsFailed != m.wantFailed {
		t.Errorf("second run = %+v, want 5 unchanged", res)
	}
	after := e.residents()
	if len(after) != len(before) {
		t.Fatalf("%d residents after, %d before", len(after), len(before))
	}
	for id, b := range before {
		a := after[id]
		if !a.UpdatedAt.Equal(b.UpdatedAt) || a.ID != b.ID || a.Status != b.Status || a.Phone != b.Phone {
			t.Errorf("resident %s changed: %+v → %+v", pii.MaskID(id), b, a)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM enrollments`); n != 0 {
		t.Errorf("%d enrollments", n)
	}
}

func TestLaterImportShowingPeopleInsuredCountsNewEnrollments(t *testing.T) {
	e := newStore(t)
	p1, p2, p3, p4 := idAged(30, idcard.Male, 1), idAged(40, idcard.Female, 2), idAged(20, idcard.Male, 3), idAged(50, idcard.Female, 4)
	header := []string{"身份证号码", "姓名", "手机号码", "村居", "参保状态"}
	first := [][]string{header,
		{p1, "林一", "", "振兴村", "未参保"},
		{p2, "林二", "", "振兴村", "不需参保"},
		{p3, "林三", "13700000003", "罗溪村", "未参保"},
		{p4, "林四", "", "罗溪村", "城乡居民养老保险"},
	}
	if res, err := importer.RunFile(context.Background(), e.im, e.file("first.csv", csvOf(first)), nil); err != nil || res.Created != 4 {
		t.Fatalf("first: %+v, %v", res, err)
	}
	second := [][]string{header,
		{p1, "林一", "", "罗溪村", "城乡居民养老保险"},       // newly insured, moved to luoxi
		{p2, "林二", "", "振兴村", "企业职工基本养老保险"},     // exempt → insured
		{p3, "林三", "13700000033", "罗溪村", "未参保"}, // new phone only
		{p4, "林四", "", "罗溪村", "企业职工养老保险"},       // insured → insured: no new enrollment
	}
	path := e.file("second.csv", csvOf(second))
	res, err := importer.RunFile(context.Background(), e.im, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 4 || res.Enrolled != 2 || res.Unchanged != 0 || res.Created != 0 || res.RowsFailed != 0 {
		t.Errorf("second = %+v, want 4 updated, 2 enrolled", res)
	}
	var enr []struct {
		ResidentID int64     `db:"resident_id"`
		Village    string    `db:"village_code"`
		Scheme     string    `db:"scheme"`
		Source     string    `db:"source"`
		SourceID   int64     `db:"source_id"`
		On         time.Time `db:"enrolled_on"`
	}
	if err := e.db.Select(&enr, `SELECT resident_id, village_code, scheme, source, source_id, enrolled_on FROM enrollments ORDER BY resident_id`); err != nil {
		t.Fatal(err)
	}
	people := e.residents()
	if len(enr) != 2 {
		t.Fatalf("%d enrollments, want 2", len(enr))
	}
	wantEnr := []struct {
		id, village, scheme string
	}{{p1, "luoxi", "resident_pension"}, {p2, "zhenxing", "employee_pension"}}
	for i, w := range wantEnr {
		g := enr[i]
		if g.ResidentID != people[w.id].ID || g.Village != w.village || g.Scheme != w.scheme || g.Source != "import" ||
			g.SourceID != res.ImportID || g.On.Format(time.DateOnly) != today() {
			t.Errorf("enrollment %d = %+v, want %+v on %s from import %d", i, g, w, today(), res.ImportID)
		}
	}
	for _, id := range []string{p1, p2, p4} {
		if people[id].StatusChangedOn != today() {
			t.Errorf("%s status_changed_on = %q, want %s", pii.MaskID(id), people[id].StatusChangedOn, today())
		}
	}
	if r := people[p3]; r.Phone != "13700000033" || !r.PhoneBidxMatches || r.StatusChangedOn != "" {
		t.Errorf("p3 = %+v, want the new phone", r)
	}

	again, err := importer.RunFile(context.Background(), e.im, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Enrolled != 0 || again.Unchanged != 4 {
		t.Errorf("again = %+v, want 4 unchanged, none enrolled", again)
	}
	if n := e.count(`SELECT COUNT(*) FROM enrollments`); n != 2 {
		t.Errorf("%d enrollments after importing again, want 2", n)
	}
}

func TestImportXLSXGivesTheSameResult(t *testing.T) {
	e := newStore(t)
	m := mixedRoster()
	var bar bytes.Buffer
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.xlsx", xlsxOf(t, m.rows)), &bar)
	if err != nil {
		t.Fatal(err)
	}
	checkMixedResult(t, e, m, res)
	if !strings.Contains(bar.String(), "导入花名册") || !strings.Contains(bar.String(), "100%") {
		t.Errorf("progress bar: %q", bar.String())
	}
}

func TestImportGB18030CSV(t *testing.T) {
	e := newStore(t)
	m := mixedRoster()
	gbk, err := simplifiedchinese.GB18030.NewEncoder().Bytes(csvOf(m.rows))
	if err != nil {
		t.Fatal(err)
	}
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", gbk), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMixedResult(t, e, m, res)
}

func TestImportCSVWithBOMAndExplicitFormat(t *testing.T) {
	e := newStore(t)
	m := mixedRoster()
	content := append([]byte{0xEF, 0xBB, 0xBF}, csvOf(m.rows)...)
	res, err := e.im.ImportFile(context.Background(), e.file("roster.data", content), "csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMixedResult(t, e, m, res)
}

func TestMissingRequiredColumnFailsAndWritesNothing(t *testing.T) {
	e := newStore(t)
	rows := [][]string{
		{"姓名", "身份证号码", "参保状态"}, // no village
		{"林志强", idAged(30, idcard.Male, 1), "未参保"},
	}
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", csvOf(rows)), nil)
	ee, ok := errs.As(err)
	if !ok || ee.Code != errs.InvalidInput || !strings.Contains(ee.Message, "缺少必填列") || !strings.Contains(ee.Message, "村居") {
		t.Fatalf("err = %v", err)
	}
	if res.ImportID == 0 {
		t.Fatal("no import id")
	}
	var status, msg string
	if err := e.db.QueryRow(`SELECT status, error FROM roster_imports WHERE id = ?`, res.ImportID).Scan(&status, &msg); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || msg != ee.Message {
		t.Errorf("import = %s %q", status, msg)
	}
	if n := e.count(`SELECT COUNT(*) FROM residents`); n != 0 {
		t.Errorf("%d residents written", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM roster_import_errors`); n != 0 {
		t.Errorf("%d row errors written", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM audit_log WHERE action = 'import.fail' AND object_id = ?`, res.ImportID); n != 1 {
		t.Errorf("%d import.fail audit rows", n)
	}
}

func TestUnreadableFilesFail(t *testing.T) {
	e := newStore(t)
	for name, content := range map[string][]byte{
		"empty.csv":   {},
		"broken.xlsx": []byte("PK\x03\x04 not really a zip"),
	} {
		_, err := importer.RunFile(context.Background(), e.im, e.file(name, content), nil)
		if ee, ok := errs.As(err); !ok || ee.Code != errs.InvalidInput {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := importer.RunFile(context.Background(), e.im, e.file("roster.xls", []byte("x")), nil); err == nil {
		t.Error(".xls accepted")
	}
	if n := e.count(`SELECT COUNT(*) FROM roster_imports WHERE status <> 'failed'`); n != 0 {
		t.Errorf("%d imports not failed", n)
	}
}

func TestFailStale(t *testing.T) {
	e := newStore(t)
	old := time.Now().UTC().Add(-time.Hour)
	if _, err := e.db.Exec(`INSERT INTO roster_imports (status, file_name, file_format, created_at, updated_at) VALUES
		('running','a.csv','csv',?,?), ('queued','b.csv','csv',?,?), ('running','c.csv','csv',?,?), ('completed','d.csv','csv',?,?)`,
		old, old, old, old, time.Now().UTC(), time.Now().UTC(), old, old); err != nil {
		t.Fatal(err)
	}
	n, err := e.im.FailStale(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("FailStale = %d, %v; want 2", n, err)
	}
	if got := e.count(`SELECT COUNT(*) FROM roster_imports WHERE status = 'failed' AND error = '服务重启，导入中断，请重新导入'`); got != 2 {
		t.Errorf("%d failed", got)
	}
}

// Row numbers are a spreadsheet's: a quoted cell over two lines is one row, a blank line is one.
func TestCSVRowNumbersCountBlankLinesAndMultilineCells(t *testing.T) {
	e := newStore(t)
	content := "身份证号码,姓名,村居,参保状态\r\n" +
		idAged(30, idcard.Male, 1) + ",\"林\r\n志强\",振兴村,未参保\r\n" + // row 2: a name over two lines
		"\r\n\r\n" + // rows 3 and 4
		idAged(31, idcard.Male, 2) + ",王五,不存在村,未参保\r\n" + // row 5
		idAged(32, idcard.Male, 3) + ",赵六,振兴村,未参保\r\n" // row 6: good
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", []byte(content)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := errorPairs(res.Errors); !slices.Equal(got, []string{"2:name", "5:village"}) || res.Created != 1 || res.RowsTotal != 3 {
		t.Errorf("result = %+v", res)
	}
}

// Every named query prepares against the schema (as checkQueries does at start-up).
func TestQueriesPrepare(t *testing.T) {
	e := newStore(t)
	if err := importer.Queries.Check(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
}

// New people get their ids in the file's order (the roster list's order), whatever order the
// import writes its keys in.
func TestNewPeopleKeepTheFilesOrder(t *testing.T) {
	e := newStore(t)
	rows := [][]string{largeHeader}
	for i := range 60 {
		rows = append(rows, syntheticRow(i))
	}
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", csvOf(rows)), nil)
	if err != nil || res.Created != 60 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	people := e.residents()
	for i := 1; i < 60; i++ {
		prev, cur := people[rows[i][0]], people[rows[i+1][0]]
		if cur.ID <= prev.ID {
			t.Fatalf("row %d has id %d, row %d id %d: not the file's order", i+1, prev.ID, i+2, cur.ID)
		}
	}
}
