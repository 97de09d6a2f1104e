package xlsxcheck_test

import (
	"archive/zip"
	"bytes"
	"os"
	"testing"

	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/xlsxcheck"
	"github.com/canbao/canbao/internal/platform/xlsxcheck/xlsxchecktest"
)

var rows = [][]any{{"登记编号", "办理结果"}, {1, "已办理"}}

func code(err error) errs.Code {
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	return ""
}

func TestCheck(t *testing.T) {
	ok := xlsxchecktest.Workbook(t, rows)
	if err := xlsxcheck.Check(bytes.NewReader(ok), int64(len(ok)), xlsxcheck.Default); err != nil {
		t.Fatalf("plain workbook refused: %v", err)
	}
	path := xlsxchecktest.Bomb(t, rows, xlsxchecktest.GiB)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var cerr error
	alloc := xlsxchecktest.Allocated(t, func() { cerr = xlsxcheck.Check(f, fi.Size(), xlsxcheck.Default) })
	if code(cerr) != errs.BodyTooLarge {
		t.Fatalf("bomb (%d bytes): %v", fi.Size(), cerr)
	}
	if alloc > 1<<20 {
		t.Errorf("checking the bomb allocated %d bytes", alloc)
	}

	// Limits, one by one.
	tight := xlsxcheck.Default
	tight.MaxEntries = 3
	if err := xlsxcheck.Check(bytes.NewReader(ok), int64(len(ok)), tight); code(err) != errs.InvalidInput {
		t.Errorf("too many entries: %v", err)
	}
	tight = xlsxcheck.Default
	tight.MaxPart = 100
	if err := xlsxcheck.Check(bytes.NewReader(ok), int64(len(ok)), tight); code(err) != errs.BodyTooLarge {
		t.Errorf("part over MaxPart: %v", err)
	}
	tight = xlsxcheck.Default
	tight.MaxInMemory = 1000
	if err := xlsxcheck.Check(bytes.NewReader(ok), int64(len(ok)), tight); code(err) != errs.BodyTooLarge {
		t.Errorf("in-memory parts over MaxInMemory: %v", err)
	}
	if err := xlsxcheck.Check(bytes.NewReader([]byte("PK\x03\x04 not a zip")), 17, xlsxcheck.Default); code(err) != errs.InvalidInput {
		t.Errorf("not a zip: %v", err)
	}
}

// Many tiny entries: the directory budget refuses them before zip.NewReader builds them all.
func TestCheckManyEntries(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 200_000; i++ {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: "a", Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	_ = zw.Close()
	var err error
	alloc := xlsxchecktest.Allocated(t, func() { err = xlsxcheck.Check(bytes.NewReader(buf.Bytes()), int64(buf.Len()), xlsxcheck.Default) })
	if code(err) != errs.InvalidInput {
		t.Fatalf("200 000 entries: %v", err)
	}
	if alloc > 64<<20 {
		t.Errorf("checking 200 000 entries allocated %d MiB", alloc>>20)
	}
}
