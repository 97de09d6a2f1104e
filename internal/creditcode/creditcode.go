// Package creditcode validates unified social credit codes (统一社会信用代码, GB 32100-2015),
// the 18-character identifier every employer carries on its business licence.
//
// A code is, position by position (1-based):
//
//	1      registration authority (登记管理部门代码): 1-9, A, N or Y
//	2      kind of organisation (机构类别代码), which the authority defines
//	3-8    the region (登记管理机关行政区划码), six digits
//	9-17   the organisation code (主体标识码, GB 11714-1997): eight characters and its own
//	       check character (MOD 11, weights 3 7 9 10 5 8 4 2; 10 is X, 11 is 0)
//	18     the check character: 31 - (Σ value_i × 3^(i-1) mod 31) mod 31, over positions 1-17
//
// Every character is from the code's alphabet: the digits and the upper-case letters except
// I, O, Z, S and V (31 symbols, valued 0-30 in that order).
//
// Parse normalises before it validates: it trims surrounding spaces (also full-width ones) and
// upper-cases ASCII letters, so "91350583mA2Xxxxx…" typed in lower case is accepted and
// answered in upper case. Nothing else is rewritten: inner spaces, full-width characters or the
// letters the alphabet leaves out are errors.
package creditcode

import (
	"strings"
)

// Len is the length of a code.
const Len = 18

// maxInput bounds the raw input so hostile input costs a few comparisons.
const maxInput = 64

// alphabet is the code's 31 symbols in value order.
const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// value is each byte's value in the alphabet, -1 when the byte is not in it.
var value = func() [256]int8 {
	var v [256]int8
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		v[alphabet[i]] = int8(i)
	}
	return v
}()

// weights are 3^(i-1) mod 31 for positions 1..17.
var weights = func() [17]int {
	var w [17]int
	p := 1
	for i := range w {
		w[i] = p
		p = p * 3 % 31
	}
	return w
}()

// orgWeights are GB 11714's weights for the organisation code's eight characters.
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// kinds lists, for each registration authority, the kind codes GB 32100-2015 defines.
var kinds = map[byte]string{
	'1': "1239", // 机构编制: 机关, 事业单位, 群众团体, 其他
	'2': "19",   // 外交
	'3': "123459",
	'4': "19",   // 文化
	'5': "1239", // 民政: 社会团体, 民办非企业单位, 基金会, 其他
	'6': "129",  // 旅游
	'7': "129",  // 宗教
	'8': "19",   // 工会
	'9': "123",  // 工商: 企业, 个体工商户, 农民专业合作社
	'A': "19",   // 中央军委改革和编制办公室
	'N': "1239", // 农业
	'Y': "1",    // 其他
}

// provinces are the first two digits of a mainland region code; 10 is the nationwide "100000"
// of central bodies.
var provinces = map[string]bool{
	"10": true,
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// Reason says why a code was refused.
type Reason string

// Reasons, one per rule of the standard.
const (
	ReasonEmpty     Reason = "empty"      // nothing but spaces
	ReasonLength    Reason = "length"     // not 18 characters
	ReasonCharacter Reason = "character"  // a character outside the alphabet
	ReasonAuthority Reason = "authority"  // position 1 is no registration authority
	ReasonKind      Reason = "kind"       // position 2 is not a kind of that authority
	ReasonRegion    Reason = "region"     // positions 3-8 are not a region code
	ReasonOrgCheck  Reason = "org_check"  // position 17 is not the organisation code's check character
	ReasonCheckChar Reason = "check_char" // position 18 is not the code's check character
)

// Error explains a refusal. Error() is English for logs; neither it nor Message() repeats the
// input.
type Error struct{ Reason Reason }

func (e *Error) Error() string { return "creditcode: invalid code (" + string(e.Reason) + ")" }

// Message is the Chinese explanation for the person who typed the code.
func (e *Error) Message() string {
	switch e.Reason {
	case ReasonEmpty:
		return "统一社会信用代码不能为空"
	case ReasonLength:
		return "统一社会信用代码应为 18 位"
	case ReasonCharacter:
		return "统一社会信用代码只能包含数字和大写字母（不含 I、O、Z、S、V）"
	case ReasonAuthority:
		return "统一社会信用代码第 1 位（登记管理部门代码）不正确"
	case ReasonKind:
		return "统一社会信用代码第 2 位（机构类别代码）不正确"
	case ReasonRegion:
		return "统一社会信用代码第 3 至 8 位（行政区划码）不正确"
	case ReasonOrgCheck:
		return "统一社会信用代码第 9 至 17 位（组织机构代码）校验不通过，请核对"
	case ReasonCheckChar:
		return "统一社会信用代码校验位（第 18 位）不正确，请核对"
	}
	return "统一社会信用代码不正确"
}

// Normalise trims surrounding spaces and upper-cases ASCII letters.
func Normalise(s string) string {
	if len(s) > maxInput {
		return s
	}
	s = strings.TrimFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\u3000' || r == '\u00a0' || r == '\ufeff'
	})
	return strings.ToUpper(s)
}

// Parse normalises s and validates it, answering the code in its canonical (upper-case) form.
func Parse(s string) (string, error) {
	if len(s) > maxInput {
		return "", &Error{ReasonLength}
	}
	s = Normalise(s)
	if s == "" {
		return "", &Error{ReasonEmpty}
	}
	if len(s) != Len {
		// A multi-byte character makes the byte length wrong too: say which rule it breaks.
		if strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 }) >= 0 && len([]rune(s)) == Len {
			return "", &Error{ReasonCharacter}
		}
		return "", &Error{ReasonLength}
	}
	for i := 0; i < Len; i++ {
		if value[s[i]] < 0 {
			return "", &Error{ReasonCharacter}
		}
	}
	ks, ok := kinds[s[0]]
	if !ok {
		return "", &Error{ReasonAuthority}
	}
	if strings.IndexByte(ks, s[1]) < 0 {
		return "", &Error{ReasonKind}
	}
	if !allDigits(s[2:8]) || !provinces[s[2:4]] || (s[2:4] == "10" && s[2:8] != "100000") {
		return "", &Error{ReasonRegion}
	}
	if c, _ := OrgCheckChar(s[8:16]); c != s[16] {
		return "", &Error{ReasonOrgCheck}
	}
	if c, _ := CheckChar(s[:17]); c != s[17] {
		return "", &Error{ReasonCheckChar}
	}
	return s, nil
}

// Valid reports whether s is a valid code (after normalising).
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// CheckChar computes the 18th character for the first 17; ok is false when first17 is not 17
// characters of the alphabet.
func CheckChar(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := value[first17[i]]
		if v < 0 {
			return 0, false
		}
		sum += int(v) * weights[i]
	}
	return alphabet[(31-sum%31)%31], true
}

// OrgCheckChar computes GB 11714's check character of an eight-character organisation code
// body ('0'-'9' or 'X'); ok is false when body is not eight characters of the alphabet.
func OrgCheckChar(body string) (byte, bool) {
	if len(body) != 8 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 8; i++ {
		c := body[i]
		if value[c] < 0 {
			return 0, false
		}
		// GB 11714 values letters A-Z as 10-35 (its own alphabet, not the credit code's).
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * orgWeights[i]
	}
	switch r := 11 - sum%11; r {
	case 10:
		return 'X', true
	case 11:
		return '0', true
	default:
		return byte('0' + r), true
	}
}

// Generate builds a valid code from its authority and kind (two characters), region (six
// digits) and organisation code body (eight characters), computing both check characters. It
// is for tests and demo data; it panics on parts that cannot make a valid code.
func Generate(authorityKind, region, orgBody string) string {
	oc, ok := OrgCheckChar(orgBody)
	if !ok || len(authorityKind) != 2 || len(region) != 6 {
		panic("creditcode: Generate: bad parts")
	}
	first := authorityKind + region + orgBody + string(oc)
	c, ok := CheckChar(first)
	if !ok {
		panic("creditcode: Generate: bad parts")
	}
	s := first + string(c)
	if _, err := Parse(s); err != nil {
		panic("creditcode: Generate: " + err.Error())
	}
	return s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
