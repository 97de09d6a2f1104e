package web

import (
	"fmt"
	"time"

	"github.com/canbao/canbao/internal/platform/errs"
)

// The civil dates the API accepts. Any date (a birth date, say) lies in MinYear..MaxYear;
// the dates and months of the drive's records (reports, exports) in FirstRecordYear..MaxYear.
// Outside those a date is a typo, and years near 0 are beyond what the database's DATETIME
// and the time-zone arithmetic handle (they answered 500).
const (
	MinYear         = 1900
	FirstRecordYear = 2000
	MaxYear         = 2100
)

// ParseDate reads a YYYY-MM-DD civil date as 00:00 UTC; a bad one, or one outside
// MinYear..MaxYear, is a 400 about field.
func ParseDate(s, field string) (time.Time, error) {
	return parseDate(s, field, MinYear)
}

// ParseRecordDate is ParseDate for the dates of the drive's records: FirstRecordYear..MaxYear.
func ParseRecordDate(s, field string) (time.Time, error) {
	return parseDate(s, field, FirstRecordYear)
}

func parseDate(s, field string, minYear int) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errs.Field(errs.InvalidInput, field, "日期格式应为 YYYY-MM-DD")
	}
	if d.Year() < minYear || d.Year() > MaxYear {
		return time.Time{}, errs.Field(errs.InvalidInput, field, fmt.Sprintf("日期须在 %d 年至 %d 年之间", minYear, MaxYear))
	}
	return d, nil
}

// ParseMonth reads a YYYY-MM month of the drive's records as 00:00 UTC of its first day; a bad
// one, or one outside FirstRecordYear..MaxYear, is a 400 about field.
func ParseMonth(s, field string) (time.Time, error) {
	m, err := time.Parse("2006-01", s)
	if err != nil {
		return time.Time{}, errs.Field(errs.InvalidInput, field, "月份格式应为 YYYY-MM")
	}
	if m.Year() < FirstRecordYear || m.Year() > MaxYear {
		return time.Time{}, errs.Field(errs.InvalidInput, field, fmt.Sprintf("月份须在 %d 年至 %d 年之间", FirstRecordYear, MaxYear))
	}
	return m, nil
}

// ParseDateRange reads the dates of fromField and toField (both required, both as
// ParseRecordDate reads them) of a range of at most maxDays days, both ends included. A range
// that ends before it starts, or is longer, is a 400 about toField.
func ParseDateRange(from, to, fromField, toField string, maxDays int) (time.Time, time.Time, error) {
	f, err := ParseRecordDate(from, fromField)
	if err != nil {
		return f, f, err
	}
	t, err := ParseRecordDate(to, toField)
	if err != nil {
		return f, t, err
	}
	if t.Before(f) {
		return f, t, errs.Field(errs.InvalidInput, toField, "结束日期不能早于开始日期")
	}
	if days := int(t.Sub(f)/(24*time.Hour)) + 1; days > maxDays {
		return f, t, errs.Field(errs.InvalidInput, toField, fmt.Sprintf("日期范围最长 %d 天", maxDays))
	}
	return f, t, nil
}
