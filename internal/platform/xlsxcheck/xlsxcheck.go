// Package xlsxcheck refuses XLSX files (zip archives) that would cost more to open than any
// real workbook does: zip bombs, oversized parts, directories with millions of entries.
//
// excelize unpacks every part of a workbook when it opens it, needed or not: worksheets and
// the shared-string table larger than its UnzipXMLSizeLimit go to temporary files, every
// other part is read into memory, with a buffer allocated at the part's declared size. Check
// walks the archive's central directory before excelize sees the file and refuses it when a
// declared size is over a limit. The declared sizes can be trusted as upper bounds: Go's
// archive/zip fails a read that goes past an entry's declared uncompressed size, so an entry
// that lies about its size cannot inflate beyond it.
package xlsxcheck

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/canbao/canbao/internal/platform/errs"
)

// Limits bound what opening a workbook may unpack.
type Limits struct {
	// StreamAbove is the excelize UnzipXMLSizeLimit in use: worksheets and shared strings
	// larger than this are streamed from temporary files instead of held in memory.
	StreamAbove int64
	// MaxSheet bounds one worksheet or the shared-string table (unpacked bytes).
	MaxSheet int64
	// MaxPart bounds any other part: styles, theme, pictures, anything unknown.
	MaxPart int64
	// MaxInMemory bounds the parts excelize holds in memory, together.
	MaxInMemory int64
	// MaxTotal bounds the whole archive unpacked.
	MaxTotal int64
	// MaxEntries bounds the number of parts.
	MaxEntries int
	// MaxDirectory bounds the bytes of the central directory read to list the parts.
	MaxDirectory int64
}

// Default are limits for rosters and answer files: generous for a town's spreadsheets
// (a 100 000-row roster is some tens of MiB unpacked), far below what hurts the server.
var Default = Limits{
	StreamAbove:  1 << 20,
	MaxSheet:     512 << 20,
	MaxPart:      16 << 20,
	MaxInMemory:  64 << 20,
	MaxTotal:     1 << 30,
	MaxEntries:   10_000,
	MaxDirectory: 4 << 20,
}

// Errors of a refused file; the field is "file".
var (
	errNotZip = errs.Field(errs.InvalidInput, "file", "文件不是有效的 XLSX 工作簿")
)

func tooLarge(what string, limit int64) error {
	return errs.Field(errs.BodyTooLarge, "file",
		fmt.Sprintf("XLSX 文件解压后过大（%s超过 %d MB），请只保留需要的工作表和内容后重新上传", what, limit>>20))
}

// Check reads the central directory of the archive in r (size bytes) and refuses it when it is
// not a zip, has too many parts, or declares unpacked sizes over the limits. It reads no part.
func Check(r io.ReaderAt, size int64, l Limits) error {
	// zip.NewReader reads directory headers until one does not parse, whatever count the
	// archive declares; a budget on the bytes it may read bounds the entries it builds.
	br := &budgetReaderAt{r: r, left: l.MaxDirectory + 128<<10} // and the end record search
	zr, err := zip.NewReader(br, size)
	if br.exceeded {
		return errs.Field(errs.InvalidInput, "file", "XLSX 文件包含的部件过多，不是正常的工作簿")
	}
	if err != nil {
		return errNotZip
	}
	if len(zr.File) > l.MaxEntries {
		return errs.Field(errs.InvalidInput, "file", "XLSX 文件包含的部件过多，不是正常的工作簿")
	}
	var total, inMemory uint64
	for _, f := range zr.File {
		n := f.UncompressedSize64
		if n > uint64(l.MaxTotal) {
			return tooLarge("文件总大小", l.MaxTotal)
		}
		total += n
		if total > uint64(l.MaxTotal) {
			return tooLarge("文件总大小", l.MaxTotal)
		}
		streamed := false
		if streamable(f.Name) {
			if n > uint64(l.MaxSheet) {
				return tooLarge("单个工作表", l.MaxSheet)
			}
			streamed = n > uint64(l.StreamAbove)
		} else if n > uint64(l.MaxPart) {
			return tooLarge("工作表以外的单个部件", l.MaxPart)
		}
		if !streamed {
			inMemory += n
			if inMemory > uint64(l.MaxInMemory) {
				return tooLarge("需载入内存的部件合计", l.MaxInMemory)
			}
		}
	}
	return nil
}

// streamable reports the parts excelize may stream from a temporary file (as lib.go's
// ReadZipReader decides: worksheets and the shared-string table).
func streamable(name string) bool {
	name = strings.ToLower(strings.ReplaceAll(name, `\`, "/"))
	return strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml"
}

// budgetReaderAt fails reads once left bytes have been read.
type budgetReaderAt struct {
	r        io.ReaderAt
	left     int64
	exceeded bool
}

var errBudget = errors.New("xlsxcheck: directory read budget exceeded")

func (b *budgetReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if int64(len(p)) > b.left {
		b.exceeded = true
		return 0, errBudget
	}
	n, err := b.r.ReadAt(p, off)
	b.left -= int64(n)
	return n, err
}
