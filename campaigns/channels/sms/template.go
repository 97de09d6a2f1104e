package sms

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// StopLine is the reply-to-stop line every reminder SMS must carry. Unsolicited SMS to
// residents (they did not ask for the reminder) must tell them how to refuse further messages;
// the provider adds a number that replies "R" to the account's blacklist, after which sends
// to it fail. The template text lives at the provider and is approved there, so this package
// cannot check it: the campaign engine must make sure the approved template text it keeps for
// the campaign carries StopLine (see HasStopLine), normally as its last line, and must never
// rely on a parameter to supply it (parameters are capped at 35 characters and filled per
// resident).
const StopLine = "拒收请回复R"

// HasStopLine reports whether a template text carries StopLine, ignoring white space.
func HasStopLine(templateText string) bool {
	compact := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, templateText)
	return strings.Contains(compact, StopLine)
}

// Template limits checked by ValidateTemplate.
const (
	MaxParams        = 10 // parameters per template
	MaxParamLen      = 35 // characters per rendered parameter value
	PlaceholderWidth = 10 // characters a {{…}} placeholder is assumed to render to
)

// ErrInvalidTemplate is matched (errors.Is) by every error of ValidateTemplate.
var ErrInvalidTemplate = errors.New("sms: invalid template")

// TemplateError is the error of ValidateTemplate: which field is wrong and why. Its text is
// in Chinese, for the campaign editor.
type TemplateError struct {
	Field  string // sign_name | template_code | params | param
	Param  string // the parameter's name when Field is "param"
	Reason string
}

func (e *TemplateError) Error() string {
	switch e.Field {
	case "sign_name":
		return "短信签名" + e.Reason
	case "template_code":
		return "短信模板编号" + e.Reason
	case "param":
		return fmt.Sprintf("模板参数 %q %s", e.Param, e.Reason)
	}
	return "模板参数" + e.Reason
}

// Is makes errors.Is(err, ErrInvalidTemplate) true.
func (e *TemplateError) Is(target error) bool { return target == ErrInvalidTemplate }

var (
	templateCodeRE = regexp.MustCompile(`^SMS_[0-9]{6,12}$`)
	paramNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,19}$`)
	placeholderRE  = regexp.MustCompile(`\{\{[^{}]*\}\}`)
)

// ValidateTemplate checks, when a campaign is saved, what the provider would refuse at send
// time:
//   - signName: 2 to 12 characters, each a Chinese character, an ASCII letter or a digit;
//   - templateCode: SMS_ followed by 6 to 12 digits;
//   - at most 10 params, each named like ^[A-Za-z][A-Za-z0-9_]{0,19}$, each value non-empty,
//     without 【】 (reserved for the sign), and at most 35 characters once rendered, a
//     {{placeholder}} counting as 10 characters.
//
// It returns the first problem found (parameters in name order) as a *TemplateError naming the
// parameter; errors.Is(err, ErrInvalidTemplate) holds.
func ValidateTemplate(signName, templateCode string, params map[string]string) error {
	if n := utf8.RuneCountInString(signName); n < 2 || n > 12 {
		return &TemplateError{Field: "sign_name", Reason: fmt.Sprintf("须为 2 至 12 个字，现为 %d 个", n)}
	}
	for _, r := range signName {
		if !unicode.Is(unicode.Han, r) && !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return &TemplateError{Field: "sign_name", Reason: fmt.Sprintf("只能包含汉字、字母和数字，不能包含 %q", r)}
		}
	}
	if !templateCodeRE.MatchString(templateCode) {
		return &TemplateError{Field: "template_code", Reason: "须形如 SMS_123456789（SMS_ 后跟 6 至 12 位数字）"}
	}
	if len(params) > MaxParams {
		return &TemplateError{Field: "params", Reason: fmt.Sprintf("最多 %d 个，现有 %d 个", MaxParams, len(params))}
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := params[k]
		bad := func(format string, a ...any) error {
			return &TemplateError{Field: "param", Param: k, Reason: fmt.Sprintf(format, a...)}
		}
		if !paramNameRE.MatchString(k) {
			return bad("名称不正确：须以字母开头，只含字母、数字和下划线，最长 20 个字符")
		}
		if strings.TrimSpace(v) == "" {
			return bad("的内容不能为空")
		}
		if strings.ContainsAny(v, "【】") {
			return bad("的内容不能包含【】")
		}
		if n := renderedLen(v); n > MaxParamLen {
			return bad("渲染后最长 %d 个字符，超过 %d 个（每个占位符按 %d 个字符计算）", n, MaxParamLen, PlaceholderWidth)
		}
	}
	return nil
}

// renderedLen is the length of v in characters once rendered, each {{…}} placeholder counting
// as PlaceholderWidth.
func renderedLen(v string) int {
	n := utf8.RuneCountInString(v)
	for _, m := range placeholderRE.FindAllString(v, -1) {
		n += PlaceholderWidth - utf8.RuneCountInString(m)
	}
	return n
}
