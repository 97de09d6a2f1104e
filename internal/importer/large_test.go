package importer_test

import (
	"archive/zip"
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
)

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
	given    = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华")
	statuses = []string{"未参保", "城乡居民养老保险", "企业职工养老保险", "不需参保"}
)

// syntheticRow is the i-th person of a large generated roster: distinct valid ID numbers
// (birth dates from 1970 on, 100 sequence numbers a day), aged 16-59 today.
func syntheticRow(i int) []string {
	birth := time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/100)
	g, gender := idcard.Male, "男"
	if i%2 == 1 {
		g, gender = idcard.Female, "女"
	}
	name := string([]rune{surnames[i%len(surnames)], given[(i/7)%len(given)], given[(i/3)%len(given)]})
	phone := ""
	if i%5 != 0 {
		phone = fmt.Sprintf("139%08d", i)
	}
	village := "振兴村"
	if i%3 == 0 {
		village = "luoxi"
	}
	employed := "否"
	if i%4 == 0 {
		employed = "是"
	}
	return []string{idcard.Generate("350583", birth, i%100, g), name, gender, phone, village, employed, "否", statuses[i%len(statuses)]}
}

var largeHeader = []string{"身份证号码", "姓名", "性别", "手机号码", "村居", "是否就业", "是否被征地农民", "参保状态"}

// heapWatch samples the live heap until stopped and reports its peak.
type heapWatch struct {
	peak atomic.Uint64
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchHeap() *heapWatch {
	h := &heapWatch{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapWatch) Stop() uint64 {
	close(h.stop)
	h.wg.Wait()
	return h.peak.Load()
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

const mib = 1 << 20

// A large CSV roster: many batches (batchRows is 1000), both villages, every status; then the
// same file again, and a later one showing a quarter of the people insured. The size proves
// the batching across many batches, not speed: throughput and peak memory at county scale
// (1,000,000 rows against LOAD DATA, RSS within 256 MiB) are the import workload of make
// bench. No wall-clock limit here: on a loaded machine it would fail with the load.
func TestImportLargeCSV(t *testing.T) {
	if testing.Short() {
		t.Skip("large CSV import skipped in -short mode")
	}
	const n = 20_000 // 20 batches; a multiple of len(statuses) and of 3 (the villages)
	e := newStore(t)
	path := filepath.Join(e.dir, "roster-large.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	fmt.Fprintln(bw, "身份证号码,姓名,性别,手机号码,村居,是否就业,是否被征地农民,参保状态")
	for i := range n {
		r := syntheticRow(i)
		fmt.Fprintf(bw, "%s,%s,%s,%s,%s,%s,%s,%s\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(path)

	before := heapInuse()
	watch := watchHeap()
	start := time.Now()
	res, err := importer.RunFile(context.Background(), e.im, path, nil)
	elapsed := time.Since(start)
	peak := watch.Stop()
	after := heapInuse()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-row CSV (%.1f MiB): %v, %.0f rows/s; heap in use %.1f MiB before, peak %.1f MiB, %.1f MiB after",
		n, float64(fi.Size())/mib, elapsed.Round(time.Millisecond), n/elapsed.Seconds(), float64(before)/mib, float64(peak)/mib, float64(after)/mib)
	if res.RowsTotal != n || res.RowsDone != n || res.Created != n || res.RowsFailed != 0 {
		t.Errorf("result = %+v", res)
	}
	if got := e.count(`SELECT COUNT(*) FROM residents`); got != n {
		t.Errorf("%d residents, want %d", got, n)
	}

	// Again: every row unchanged, nothing written.
	start = time.Now()
	res, err = importer.RunFile(context.Background(), e.im, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-row CSV again (all unchanged): %v", n, time.Since(start).Round(time.Millisecond))
	if res.Unchanged != n || res.Created != 0 || res.Updated != 0 {
		t.Errorf("second result = %+v", res)
	}

	// A later roster shows every fourth person (the unenrolled) insured: n/4 new enrollments,
	// in the daily totals progress reads, per village, on the import date.
	later := filepath.Join(e.dir, "roster-large-later.csv")
	f, err = os.Create(later)
	if err != nil {
		t.Fatal(err)
	}
	bw = bufio.NewWriter(f)
	fmt.Fprintln(bw, "身份证号码,姓名,性别,手机号码,村居,是否就业,是否被征地农民,参保状态")
	want := map[string]int{}
	for i := range n {
		r := syntheticRow(i)
		if i%len(statuses) == 0 {
			r[7] = "城乡居民养老保险"
			if i%3 == 0 {
				want["luoxi"]++
			} else {
				want["zhenxing"]++
			}
		}
		fmt.Fprintf(bw, "%s,%s,%s,%s,%s,%s,%s,%s\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start = time.Now()
	res, err = importer.RunFile(context.Background(), e.im, later, nil)
	elapsed = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-row CSV with %d newly insured: %v, %.0f rows/s", n, n/4, elapsed.Round(time.Millisecond), n/elapsed.Seconds())
	if res.Enrolled != n/4 || res.Updated != n/4 || res.Unchanged != n-n/4 || res.RowsFailed != 0 {
		t.Errorf("third result = %+v, want %d updated and enrolled", res, n/4)
	}
	e.checkDaily(want)

	// The same file again counts nobody twice.
	if res, err = importer.RunFile(context.Background(), e.im, later, nil); err != nil || res.Enrolled != 0 || res.Unchanged != n {
		t.Errorf("fourth result = %+v, %v", res, err)
	}
	e.checkDaily(want)
}

// checkDaily asserts the daily enrollment totals of each village on the import date, and
// that they equal the enrollment rows they sum.
func (e *storeEnv) checkDaily(want map[string]int) {
	e.t.Helper()
	for _, v := range []string{"zhenxing", "luoxi"} {
		daily := e.count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily WHERE village_code = ? AND enrolled_on = ?`, v, today())
		rows := e.count(`SELECT COUNT(*) FROM enrollments WHERE village_code = ? AND enrolled_on = ? AND source = 'import'`, v, today())
		if daily != want[v] || rows != want[v] {
			e.t.Errorf("%s on %s: enrollment_daily %d, enrollments %d, want %d", v, today(), daily, rows, want[v])
		}
	}
	if n := e.count(`SELECT COALESCE(SUM(enrolled), 0) FROM enrollment_daily WHERE enrolled_on <> ?`, today()); n != 0 {
		e.t.Errorf("%d enrollments on other days", n)
	}
}

// A worksheet larger than excelize's in-memory limit (the importer's xlsxInMemory, 1 MiB) is
// streamed from a temporary file. The sheet is checked to be well past that limit.
func TestImportLargeXLSX(t *testing.T) {
	if testing.Short() {
		t.Skip("large XLSX import skipped in -short mode")
	}
	const n = 10_000
	e := newStore(t)
	path := filepath.Join(e.dir, "roster-large.xlsx")
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	row := func(cells []string) []any {
		out := make([]any, len(cells))
		for i, c := range cells {
			out[i] = c
		}
		return out
	}
	if err := sw.SetRow("A1", row(largeHeader)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, row(syntheticRow(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sheet := worksheetSize(t, path)
	if sheet < 2*mib {
		t.Fatalf("the worksheet unpacks to %.1f MiB: too small to be streamed from a temporary file (over 1 MiB); make n larger", float64(sheet)/mib)
	}

	before := heapInuse()
	watch := watchHeap()
	start := time.Now()
	res, err := importer.RunFile(context.Background(), e.im, path, nil)
	elapsed := time.Since(start)
	peak := watch.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worksheet %.1f MiB unpacked", float64(sheet)/mib)
	t.Logf("%d-row XLSX: %v, %.0f rows/s; heap in use %.1f MiB before, peak %.1f MiB",
		n, elapsed.Round(time.Millisecond), n/elapsed.Seconds(), float64(before)/mib, float64(peak)/mib)
	if res.RowsTotal != n || res.Created != n || res.RowsFailed != 0 {
		t.Errorf("result = %+v", res)
	}
}

// worksheetSize is the unpacked size of the workbook's first worksheet.
func worksheetSize(t *testing.T, path string) uint64 {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name == "xl/worksheets/sheet1.xml" {
			return f.UncompressedSize64
		}
	}
	t.Fatal("no xl/worksheets/sheet1.xml in the workbook")
	return 0
}
