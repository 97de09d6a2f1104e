// Package idcard validates and normalises mainland China resident ID numbers
// (居民身份证号码) as defined by GB 11643-1999.
package idcard

import (
	"fmt"
	"strings"
	"time"
)

// maxInputLen bounds the raw input; anything longer is rejected before any
// other work so hostile input cannot cost more than a few comparisons.
const maxInputLen = 32

// Gender is the sex encoded in the 17th character of an ID number.
type Gender string

// Genders encoded by the parity of the 17th digit.
const (
	Male   Gender = "male"   // 17th digit odd
	Female Gender = "female" // 17th digit even
)

// ID is a validated, normalised 18-character resident ID number.
type ID struct {
	Number string    // 18 chars, last may be 'X' (upper case)
	Area   string    // first 6 digits (administrative division code)
	Birth  time.Time // date of birth at 00:00 UTC (a civil date)
	Gender Gender    // 17th digit odd = male
}

// Reason is a machine-readable code for why an ID number was rejected.
type Reason string

// Rejection reasons returned in *Error.
const (
	ReasonEmpty       Reason = "empty"        // nothing but spaces
	ReasonLength      Reason = "length"       // not 18 (or legacy 15) characters
	ReasonFormat      Reason = "format"       // characters other than 17 digits + digit/X
	ReasonArea        Reason = "area"         // unknown province code
	ReasonBirthDate   Reason = "birth_date"   // not a real date, or before 1900-01-01
	ReasonFutureBirth Reason = "future_birth" // birth date after today (the caller's business day)
	ReasonChecksum    Reason = "checksum"     // ISO 7064 MOD 11-2 check character mismatch
)

// Error explains why a number was rejected. Error() is English for logs and
// never contains the number; Message() is Chinese for the resident.
type Error struct {
	Reason Reason
}

// Error returns an English description for logs; it never contains the input.
func (e *Error) Error() string {
	switch e.Reason {
	case ReasonEmpty:
		return "idcard: ID number is empty"
	case ReasonLength:
		return "idcard: ID number has the wrong length"
	case ReasonFormat:
		return "idcard: ID number contains invalid characters"
	case ReasonArea:
		return "idcard: ID number has an unknown province code"
	case ReasonBirthDate:
		return "idcard: ID number has an invalid birth date"
	case ReasonFutureBirth:
		return "idcard: ID number has a birth date in the future"
	case ReasonChecksum:
		return "idcard: ID number check character mismatch"
	default:
		return "idcard: invalid ID number"
	}
}

// Message returns a Chinese explanation suitable for showing to the resident.
func (e *Error) Message() string {
	switch e.Reason {
	case ReasonEmpty:
		return "请输入身份证号码"
	case ReasonLength:
		return "身份证号码应为18位"
	case ReasonFormat:
		return "身份证号码格式不正确，应为17位数字加1位数字或字母X"
	case ReasonArea:
		return "身份证号码中的地区代码无效"
	case ReasonBirthDate:
		return "身份证号码中的出生日期无效"
	case ReasonFutureBirth:
		return "身份证号码中的出生日期不能晚于今天"
	case ReasonChecksum:
		return "身份证号码校验位不正确"
	default:
		return "身份证号码无效"
	}
}

func reject(r Reason) (ID, error) { return ID{}, &Error{Reason: r} }

// weights are the ISO 7064 MOD 11-2 weights for positions 1..17.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// CheckChar returns the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X')
// for the first 17 digits of an ID number.
func CheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, &Error{Reason: ReasonLength}
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, &Error{Reason: ReasonFormat}
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11], nil
}

// Parse validates s as a resident ID number and returns it normalised to 18
// characters. A legacy 15-digit number is upgraded (year prefixed with "19",
// check character computed). The birth date may not be later than the civil
// date of today read in today's own location: pass the business day (e.g.
// web.Today) or the current time in the business time zone, never a bare
// time.Now(). Errors are *Error.
func Parse(s string, today time.Time) (ID, error) {
	if len(s) > maxInputLen {
		return reject(ReasonLength)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return reject(ReasonEmpty)
	}
	if s[len(s)-1] == 'x' {
		s = s[:len(s)-1] + "X"
	}

	var num string
	switch len(s) {
	case 15:
		if !allDigits(s) {
			return reject(ReasonFormat)
		}
		first17 := s[:6] + "19" + s[6:]
		c, _ := CheckChar(first17) // cannot fail: 17 digits
		num = first17 + string(c)
	case 18:
		if !allDigits(s[:17]) || !(isDigit(s[17]) || s[17] == 'X') {
			return reject(ReasonFormat)
		}
		num = s
	default:
		return reject(ReasonLength)
	}

	if !validProvince(num[:2]) {
		return reject(ReasonArea)
	}

	y, m, d := atoi(num[6:10]), atoi(num[10:12]), atoi(num[12:14])
	birth := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || d < 1 || birth.Day() != d || birth.Month() != time.Month(m) || y < 1900 {
		return reject(ReasonBirthDate)
	}
	ty, tm, td := today.Date()
	if birth.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)) {
		return reject(ReasonFutureBirth)
	}

	if c, _ := CheckChar(num[:17]); c != num[17] {
		return reject(ReasonChecksum)
	}

	g := Female
	if (num[16]-'0')%2 == 1 {
		g = Male
	}
	return ID{Number: num, Area: num[:6], Birth: birth, Gender: g}, nil
}

// Generate builds a synthetic, checksum-valid number for tests and fixtures:
// area + YYYYMMDD (birth's own calendar fields) + two-digit seq%100 + a gender
// digit derived from seq (odd for Male, even for Female) + check character.
// It does not check the province or date range, so it can also build numbers
// that Parse rejects. It panics on programmer error: area not 6 ASCII digits,
// birth year outside 0..9999, or an unknown gender.
func Generate(area string, birth time.Time, seq int, g Gender) string {
	if len(area) != 6 || !allDigits(area) {
		panic(fmt.Sprintf("idcard.Generate: area must be 6 digits, got %d bytes", len(area)))
	}
	y, m, d := birth.Date()
	if y < 0 || y > 9999 {
		panic("idcard.Generate: birth year out of range 0..9999")
	}
	sq := ((seq % 100) + 100) % 100
	gd := (((seq/100)%5 + 5) % 5) * 2 // 0,2,4,6,8
	switch g {
	case Male:
		gd++
	case Female:
	default:
		panic("idcard.Generate: unknown gender " + string(g))
	}
	first17 := fmt.Sprintf("%s%04d%02d%02d%02d%d", area, y, int(m), d, sq, gd)
	c, _ := CheckChar(first17)
	return first17 + string(c)
}

// AgeOn returns the number of full years completed by someone born on the
// civil date birth as of the civil date on, each read in its own location
// (e.g. ID.Birth and web.Today at UTC midnight, or a time in the business
// time zone). It is the one age rule of canbao. Someone born on Feb 29 turns
// a year older on Feb 29 in leap years and on Mar 1 in common years. Returns
// 0 if on precedes birth.
func AgeOn(birth, on time.Time) int {
	by, bm, bd := birth.Date()
	oy, om, od := on.Date()
	if bm == time.February && bd == 29 && !isLeap(oy) {
		bm, bd = time.March, 1
	}
	age := oy - by
	if om < bm || (om == bm && od < bd) {
		age--
	}
	if age < 0 {
		return 0
	}
	return age
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoi converts a short string of ASCII digits (already checked).
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// validProvince reports whether the two-digit code is a GB/T 2260 province.
func validProvince(p string) bool {
	n := atoi(p)
	switch {
	case n >= 11 && n <= 15, n >= 21 && n <= 23, n >= 31 && n <= 37,
		n >= 41 && n <= 46, n >= 50 && n <= 54, n >= 61 && n <= 65,
		n == 71, n == 81, n == 82:
		return true
	}
	return false
}
