package importer

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/person"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Statuses of residents.status.
const (
	StatusUnenrolled      = "unenrolled"
	StatusResidentPension = "resident_pension"
	StatusEmployeePension = "employee_pension"
	StatusExempt          = "exempt"
)

// Fields of the roster file: the names used in RowError.Field and the English header aliases.
const (
	FieldIDNumber         = "id_number"
	FieldName             = "name"
	FieldGender           = "gender"
	FieldPhone            = "phone"
	FieldVillage          = "village"
	FieldEmployed         = "employed"
	FieldLandExpropriated = "land_expropriated"
	FieldStatus           = "status"
	FieldEmployerName     = "employer_name"
	FieldEmployerCode     = "employer_credit_code"
)

// column describes one column of the roster file.
type column struct {
	field    string
	label    string   // the Chinese header of the template
	aliases  []string // other accepted headers, compared after normalising
	required bool
}

// columns are the roster's columns in template order.
var columns = []column{
	{FieldIDNumber, "身份证号码", []string{"身份证号", "公民身份号码", "身份证", "id_number", "idnumber", "id_no"}, true},
	{FieldName, "姓名", []string{"name"}, true},
	{FieldGender, "性别", []string{"gender", "sex"}, false},
	{FieldPhone, "手机号码", []string{"手机号", "联系电话", "手机", "phone", "mobile"}, false},
	{FieldVillage, "村居", []string{"村（居）", "村(居)", "所在村居", "村居名称", "村", "village", "village_code"}, true},
	{FieldEmployed, "是否就业", []string{"就业", "employed"}, false},
	{FieldLandExpropriated, "是否被征地农民", []string{"被征地农民", "是否被征地", "land_expropriated"}, false},
	{FieldStatus, "参保状态", []string{"status"}, true},
	{FieldEmployerName, "工作单位", []string{"单位名称", "工作单位名称", "employer", "employer_name"}, false},
	{FieldEmployerCode, "统一社会信用代码", []string{"单位统一社会信用代码", "信用代码", "credit_code", "employer_credit_code"}, false},
}

// fieldLabel is the Chinese header of a field, for messages and the error report.
func fieldLabel(field string) string {
	for _, c := range columns {
		if c.field == field {
			return c.label
		}
	}
	return field
}

// headerIndex maps a normalised header to its field.
var headerIndex = func() map[string]string {
	m := map[string]string{}
	for _, c := range columns {
		m[normaliseHeader(c.label)] = c.field
		m[normaliseHeader(c.field)] = c.field
		for _, a := range c.aliases {
			m[normaliseHeader(a)] = c.field
		}
	}
	return m
}()

// normaliseHeader trims spaces, a BOM and required-field stars, and lower-cases English.
func normaliseHeader(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	s = strings.TrimSpace(s)
	s = strings.Trim(s, "*＊ \t")
	s = strings.ReplaceAll(s, " ", "")
	return strings.ToLower(s)
}

// layout says which file column holds each field (-1: absent).
type layout map[string]int

// parseHeader maps the header row to fields. Unknown columns are ignored; a field named
// twice takes its first column. A missing required column is an error naming every one.
func parseHeader(cells []string) (layout, error) {
	l := layout{}
	for _, c := range columns {
		l[c.field] = -1
	}
	for i, cell := range cells {
		if f, ok := headerIndex[normaliseHeader(cell)]; ok && l[f] < 0 {
			l[f] = i
		}
	}
	var missing []string
	for _, c := range columns {
		if c.required && l[c.field] < 0 {
			missing = append(missing, "“"+c.label+"”")
		}
	}
	if len(missing) > 0 {
		return nil, errs.New(errs.InvalidInput, fmt.Sprintf("文件缺少必填列：%s。第 1 行须为表头，可下载导入模板对照填写", strings.Join(missing, "、")))
	}
	return l, nil
}

// cell returns the trimmed value of a field in a row ("" when the column is absent).
func (l layout) cell(cells []string, field string) string {
	i := l[field]
	if i < 0 || i >= len(cells) {
		return ""
	}
	return cleanCell(cells[i])
}

// has reports whether the file has the field's column.
func (l layout) has(field string) bool { return l[field] >= 0 }

// cleanCell trims spaces (also full-width and non-breaking ones) and the apostrophe or tab that
// spreadsheet users put before long numbers to keep them as text.
func cleanCell(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\u3000' || r == '\u00a0' || r == '\ufeff'
	})
	s = strings.TrimPrefix(s, "'")
	return strings.TrimSpace(s)
}

// blankRow reports whether every cell of a row is empty (such rows are skipped, not counted).
func blankRow(cells []string) bool {
	for _, c := range cells {
		if cleanCell(c) != "" {
			return false
		}
	}
	return true
}

// record is one valid roster row, ready to write.
type record struct {
	row       int
	idNumber  string
	idBidx    []byte
	name      string
	gender    string
	birth     time.Time
	phone     string // "" when not given: an existing phone is kept
	phoneBidx []byte
	village   string // village code
	employed  tri    // unknown when not given: kept, or false for new people
	land      tri
	status    string
	// employerName and employerCode are nil when not given: kept, or NULL for new people.
	employerName, employerCode *string
}

// tri is a yes/no answer that may be missing.
type tri int8

const (
	unknown tri = iota
	no
	yes
)

func (t tri) or(def bool) bool {
	switch t {
	case yes:
		return true
	case no:
		return false
	}
	return def
}

var phonePattern = regexp.MustCompile(`^1[3-9]\d{9}$`)

// scientific matches a long number Excel turned into a float ("3.50583E+17").
var scientific = regexp.MustCompile(`^\d(\.\d+)?[eE]\+?\d+$`)

// villages maps codes and names of the town's villages to codes.
type villages map[string]string

func (v villages) find(s string) (string, bool) {
	if code, ok := v[s]; ok {
		return code, true
	}
	code, ok := v[strings.ToLower(s)]
	return code, ok
}

var statusValues = map[string]string{
	"未参保": StatusUnenrolled, "unenrolled": StatusUnenrolled,
	"城乡居民养老保险": StatusResidentPension, "城乡居民基本养老保险": StatusResidentPension, "resident_pension": StatusResidentPension,
	"企业职工养老保险": StatusEmployeePension, "企业职工基本养老保险": StatusEmployeePension, "employee_pension": StatusEmployeePension,
	"不需参保": StatusExempt, "暂缓": StatusExempt, "暂缓参保": StatusExempt, "exempt": StatusExempt,
}

var boolValues = map[string]tri{
	"是": yes, "否": no, "1": yes, "0": no, "true": yes, "false": no, "y": yes, "n": no, "yes": yes, "no": no,
}

var genderValues = map[string]idcard.Gender{
	"男": idcard.Male, "女": idcard.Female, "male": idcard.Male, "female": idcard.Female, "m": idcard.Male, "f": idcard.Female,
}

// validator turns rows into records; it never puts a cell's value into a message.
type validator struct {
	layout   layout
	villages villages
	today    time.Time
	kr       interface {
		BlindIndex(kind, value string) []byte
	}
}

// parsed is one data row after validation: the blind index of a valid ID number (which claims
// the number even when another cell is bad), the record when the whole row is good, or its
// first problem.
type parsed struct {
	row  int
	bidx []byte
	rec  *record
	err  *RowError
}

func (v *validator) parse(row int, cells []string) parsed {
	p := parsed{row: row}
	fail := func(field, msg string) parsed {
		p.err = &RowError{Row: row, Field: field, Message: msg}
		return p
	}
	l := v.layout

	rawID := l.cell(cells, FieldIDNumber)
	if rawID == "" {
		return fail(FieldIDNumber, "身份证号码不能为空")
	}
	if scientific.MatchString(rawID) {
		return fail(FieldIDNumber, "身份证号码被表格软件存成了数字，请把该列设为文本格式后重新填写")
	}
	id, err := idcard.Parse(rawID, v.today)
	if err != nil {
		var ie *idcard.Error
		if errors.As(err, &ie) {
			return fail(FieldIDNumber, ie.Message())
		}
		return fail(FieldIDNumber, "身份证号码无效")
	}
	p.bidx = v.kr.BlindIndex(pii.IndexIDNumber, id.Number)
	rec := &record{row: row, idNumber: id.Number, idBidx: p.bidx, gender: string(id.Gender), birth: id.Birth}

	rec.name = l.cell(cells, FieldName)
	if rec.name == "" {
		return fail(FieldName, "姓名不能为空")
	}
	if !person.ValidName(rec.name) {
		return fail(FieldName, "姓名须为 1 至 30 个字，不能包含数字或特殊符号")
	}

	if g := l.cell(cells, FieldGender); g != "" {
		gender, ok := genderValues[strings.ToLower(g)]
		if !ok {
			return fail(FieldGender, "性别应填“男”或“女”")
		}
		if gender != id.Gender {
			return fail(FieldGender, "性别与身份证号码不符")
		}
	}

	if ph := l.cell(cells, FieldPhone); ph != "" {
		ph = strings.NewReplacer(" ", "", "-", "").Replace(ph)
		ph = strings.TrimPrefix(ph, "+86")
		if !phonePattern.MatchString(ph) {
			return fail(FieldPhone, "手机号码应为 11 位数字，以 1 开头")
		}
		rec.phone = ph
		rec.phoneBidx = v.kr.BlindIndex(pii.IndexPhone, ph)
	}

	vc := l.cell(cells, FieldVillage)
	if vc == "" {
		return fail(FieldVillage, "村居不能为空")
	}
	code, ok := v.villages.find(vc)
	if !ok {
		return fail(FieldVillage, "村居不存在，请填写本镇村居的名称（如“振兴村”）或代码")
	}
	rec.village = code

	if s := l.cell(cells, FieldEmployed); s != "" {
		t, ok := boolValues[strings.ToLower(s)]
		if !ok {
			return fail(FieldEmployed, "是否就业应填“是”或“否”")
		}
		rec.employed = t
	}
	if s := l.cell(cells, FieldLandExpropriated); s != "" {
		t, ok := boolValues[strings.ToLower(s)]
		if !ok {
			return fail(FieldLandExpropriated, "是否被征地农民应填“是”或“否”")
		}
		rec.land = t
	}

	st := l.cell(cells, FieldStatus)
	if st == "" {
		return fail(FieldStatus, "参保状态不能为空")
	}
	status, ok := statusValues[strings.ToLower(st)]
	if !ok {
		return fail(FieldStatus, "参保状态应为：未参保、城乡居民养老保险、企业职工养老保险或不需参保")
	}
	rec.status = status

	// An employer (its name, its code or both) means the person is employed: a row that says
	// 是否就业 = 否 and names an employer contradicts itself and is refused; one that leaves
	// 是否就业 empty becomes employed.
	if s := l.cell(cells, FieldEmployerName); s != "" {
		if n := utf8.RuneCountInString(s); n < 2 || n > 128 || strings.ContainsFunc(s, unicode.IsControl) {
			return fail(FieldEmployerName, "工作单位名称须为 2 至 128 个字")
		}
		rec.employerName = &s
	}
	if s := l.cell(cells, FieldEmployerCode); s != "" {
		code, err := creditcode.Parse(s)
		if err != nil {
			msg := "统一社会信用代码不正确"
			var ce *creditcode.Error
			if errors.As(err, &ce) {
				msg = ce.Message()
			}
			return fail(FieldEmployerCode, fmt.Sprintf("第 %d 行：%s", row, msg))
		}
		rec.employerCode = &code
	}
	if rec.employerName != nil || rec.employerCode != nil {
		if rec.employed == no {
			return fail(FieldEmployed, "填写了工作单位或统一社会信用代码的人员，是否就业应为“是”（或不填）")
		}
		rec.employed = yes
	}
	p.rec = rec
	return p
}

// insured reports whether a status means the person has a pension.
func insured(status string) bool {
	return status == StatusResidentPension || status == StatusEmployeePension
}

// ptr is the answer as a pointer, nil when unknown.
func (t tri) ptr() *bool {
	if t == unknown {
		return nil
	}
	v := t == yes
	return &v
}
