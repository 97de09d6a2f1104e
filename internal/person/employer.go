package person

import (
	"database/sql"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Employer name bounds, in characters.
const (
	EmployerNameMinLen = 2
	EmployerNameMaxLen = 128
)

// ValidEmployerName accepts 2-128 characters without control characters (names of firms hold
// digits, brackets and Latin letters).
func ValidEmployerName(s string) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && n >= EmployerNameMinLen && n <= EmployerNameMaxLen && !strings.ContainsFunc(s, unicode.IsControl)
}

// Employer validates the optional employer fields of a request (registration, visit): each
// nil or empty means not given (NULL). The code is normalised (upper case) and checked against
// GB 32100-2015; a bad one is CREDIT_CODE_INVALID on codeField with the rule it breaks, a bad
// name INVALID_INPUT on nameField.
func Employer(name, code *string, nameField, codeField string) (sql.NullString, sql.NullString, error) {
	var n, c sql.NullString
	if name != nil {
		if s := strings.TrimSpace(*name); s != "" {
			if !ValidEmployerName(s) {
				return n, c, errs.Field(errs.InvalidInput, nameField, "工作单位名称须为 2 至 128 个字")
			}
			n = sql.NullString{String: s, Valid: true}
		}
	}
	if code != nil && strings.TrimSpace(*code) != "" {
		s, err := creditcode.Parse(*code)
		if err != nil {
			msg := "统一社会信用代码不正确"
			var ce *creditcode.Error
			if errors.As(err, &ce) {
				msg = ce.Message()
			}
			return n, c, errs.Field("CREDIT_CODE_INVALID", codeField, msg)
		}
		c = sql.NullString{String: s, Valid: true}
	}
	return n, c, nil
}
