package seed

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
)

// annexCSV is the annex of 罗政〔2019〕185号, the per-village task table, as printed.
//
//go:embed data/luodong-2019-task-table.csv
var annexCSV string

// Town is the town of the plan.
const Town = "罗东镇"

// annexTotalLabel names the printed total row.
const annexTotalLabel = "合计"

// annexHeader is the expected header of the annex CSV.
var annexHeader = []string{"village", "population_16_59", "enrolled_resident_pension", "unenrolled", "expansion_target", "task_2019"}

// villageCodes are the stable pinyin codes of the villages, used in URLs, tokens and usernames.
var villageCodes = map[string]string{
	"振兴村":  "zhenxing",
	"罗溪村":  "luoxi",
	"维新村":  "weixin",
	"新明村":  "xinming",
	"罗东村":  "luodong",
	"埔心村":  "puxin",
	"山坂村":  "shanban",
	"蔡厝村":  "caicuo",
	"霞山村":  "xiashan",
	"荆坑村":  "jingkeng",
	"高塘村":  "gaotang",
	"潭溪村":  "tanxi",
	"新雨亭":  "xinyuting",
	"银河新城": "yinhexincheng",
}

// AnnexRow is one row of the printed task table.
type AnnexRow struct {
	Village, Code   string
	Population      int // 16-59岁人口数
	Enrolled        int // 已参加城乡居民养老保险人数
	Unenrolled      int // 未参保人数
	ExpansionTarget int // 应扩面人数
	Task2019        int // 2019年任务数
}

// Annex returns the 14 village rows, in the printed order, and the printed total row (合计,
// Code ""). The rows are the table as printed: their targets and tasks do not add up to the
// total row (9778 and 7821 against 9777 and 7822), and Annex does not correct that.
func Annex() (rows []AnnexRow, total AnnexRow, err error) {
	records, err := csv.NewReader(strings.NewReader(annexCSV)).ReadAll()
	if err != nil {
		return nil, AnnexRow{}, fmt.Errorf("seed: annex: %w", err)
	}
	if len(records) < 2 {
		return nil, AnnexRow{}, fmt.Errorf("seed: annex: no rows")
	}
	if got := strings.Join(records[0], ","); got != strings.Join(annexHeader, ",") {
		return nil, AnnexRow{}, fmt.Errorf("seed: annex: unexpected header %q", got)
	}
	seenTotal := false
	for i, rec := range records[1:] {
		line := i + 2
		if len(rec) != len(annexHeader) {
			return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d: %d fields, want %d", line, len(rec), len(annexHeader))
		}
		if seenTotal {
			return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d: row after the total row", line)
		}
		var n [5]int
		for j := range n {
			v, err := strconv.Atoi(strings.TrimSpace(rec[j+1]))
			if err != nil || v < 0 {
				return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d: %s is not a count: %q", line, annexHeader[j+1], rec[j+1])
			}
			n[j] = v
		}
		row := AnnexRow{Village: strings.TrimSpace(rec[0]), Population: n[0], Enrolled: n[1], Unenrolled: n[2], ExpansionTarget: n[3], Task2019: n[4]}
		if row.Enrolled+row.Unenrolled != row.Population {
			return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d (%s): enrolled %d + unenrolled %d != population %d",
				line, row.Village, row.Enrolled, row.Unenrolled, row.Population)
		}
		if row.ExpansionTarget > row.Unenrolled || row.Task2019 > row.ExpansionTarget {
			return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d (%s): target or task exceeds the unenrolled count", line, row.Village)
		}
		if row.Village == annexTotalLabel {
			total, seenTotal = row, true
			continue
		}
		code, ok := villageCodes[row.Village]
		if !ok {
			return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d: village %q has no code", line, row.Village)
		}
		for _, prev := range rows {
			if prev.Code == code {
				return nil, AnnexRow{}, fmt.Errorf("seed: annex line %d: village %q appears twice", line, row.Village)
			}
		}
		row.Code = code
		rows = append(rows, row)
	}
	if !seenTotal {
		return nil, AnnexRow{}, fmt.Errorf("seed: annex: the total row %s is missing", annexTotalLabel)
	}
	if len(rows) != len(villageCodes) {
		return nil, AnnexRow{}, fmt.Errorf("seed: annex: %d villages, want %d", len(rows), len(villageCodes))
	}
	return rows, total, nil
}
