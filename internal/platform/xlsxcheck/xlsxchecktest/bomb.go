// Package xlsxchecktest builds zip bombs for tests: real workbooks with one extra part that
// inflates to many times its stored size.
package xlsxchecktest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// Bomb returns the path of an XLSX workbook whose first sheet holds rows and which carries
// an extra part, xl/media/blob.bin, of extra zero bytes (deflated at the best compression:
// 1 GiB stores as about 1 MiB). Building a large one costs CPU, so the file is kept in the
// system's temporary folder, named after its content, and reused by later calls and runs.
func Bomb(t testing.TB, rows [][]any, extra int64) string {
	t.Helper()
	sum := sha256.Sum256(fmt.Appendf(nil, "v1 %v %d", rows, extra))
	path := filepath.Join(os.TempDir(), "canbao-zipbomb-"+hex.EncodeToString(sum[:8])+".xlsx")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp, err := os.CreateTemp(os.TempDir(), "canbao-zipbomb-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(tmp.Name())
	if err := writeBomb(tmp, rows, extra); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
	return path
}

// Workbook is a plain workbook of rows, as bytes.
func Workbook(t testing.TB, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sh, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeBomb(w io.Writer, rows [][]any, extra int64) error {
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sh, cell, &r); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return err
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	for _, zf := range zr.File {
		if err := zw.Copy(zf); err != nil {
			return err
		}
	}
	pw, err := zw.CreateHeader(&zip.FileHeader{Name: "xl/media/blob.bin", Method: zip.Deflate})
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for left := extra; left > 0; left -= int64(len(zeros)) {
		if _, err := pw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// LyingPart returns a workbook of rows with an extra part that declares size 1 KiB and
// inflates to actual bytes.
func LyingPart(t testing.TB, rows [][]any, actual int64) []byte {
	t.Helper()
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	crc := crc32.NewIEEE()
	for left := actual; left > 0; left -= int64(len(zeros)) {
		n := min(left, int64(len(zeros)))
		_, _ = fw.Write(zeros[:n])
		_, _ = crc.Write(zeros[:n])
	}
	_ = fw.Close()
	base := Workbook(t, rows)
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, zf := range zr.File {
		if err := zw.Copy(zf); err != nil {
			t.Fatal(err)
		}
	}
	pw, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/media/blob.bin", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(deflated.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Allocated runs f and returns the bytes the process allocated meanwhile (TotalAlloc's
// growth): an upper bound of the memory f needed, that does not depend on when GC runs. The
// time f took is logged for information, never asserted.
func Allocated(t testing.TB, f func()) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	n := after.TotalAlloc - before.TotalAlloc
	t.Logf("took %.1f s, allocated %d MiB", took.Seconds(), n>>20)
	return n
}

// GiB is the size of the extra part of the standard bomb.
const GiB = 1 << 30
