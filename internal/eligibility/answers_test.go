package eligibility

import (
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/errs"
)

// TestEvaluateSaysWhy: each branch of the rule gives its own reason, starting with the person's
// age and sex; the age error gives the rule's bounds and the person's age; a gender the year's
// policy has no threshold for is refused on the field gender.
func TestEvaluateSaysWhy(t *testing.T) {
	y := year(t)
	asOf := d("2019-07-18")
	for _, tc := range []struct {
		name     string
		p        Person
		prefix   string
		contains string
	}{
		{"employed", Person{Gender: idcard.Female, Birth: d("1995-01-01"), Employed: true},
			"您是 24 周岁的女性，目前已就业。", "应由用人单位为您办理企业职工基本养老保险参保登记"},
		{"land-expropriated", Person{Gender: idcard.Male, Birth: d("1965-03-03"), LandExpropriated: true},
			"您是 54 周岁的男性，属于被征地农民。", "并按规定给予参保缴费补贴"},
		{"at or over the threshold", Person{Gender: idcard.Male, Birth: d("1974-07-18")},
			"您是 45 周岁的男性，目前未就业。", "及以上的未参保人员，引导参加城乡居民基本养老保险"},
		{"under the threshold", Person{Gender: idcard.Female, Birth: d("1979-07-19")},
			"您是 39 周岁的女性，目前未就业。", "以下的未参保人员，主要引导以灵活就业人员身份参加企业职工基本养老保险"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Evaluate(y, tc.p, asOf)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(r.Reason, tc.prefix) || !strings.Contains(r.Reason, tc.contains) {
				t.Fatalf("reason %q; want it to start %q and say %q", r.Reason, tc.prefix, tc.contains)
			}
			if r.Gender != tc.p.Gender {
				t.Fatalf("gender %q, want %q", r.Gender, tc.p.Gender)
			}
		})
	}

	for _, tc := range []struct {
		birth string
		want  string
	}{
		{"2003-07-19", "全民参保扩面对象为 16 至 59 周岁人员，您目前 15 周岁。"},
		{"1959-07-18", "全民参保扩面对象为 16 至 59 周岁人员，您目前 60 周岁。"},
	} {
		_, err := Evaluate(y, Person{Gender: idcard.Male, Birth: d(tc.birth)}, asOf)
		e, ok := errs.As(err)
		if !ok || e.Code != errs.AgeOutOfScope || !strings.HasPrefix(e.Message, tc.want) || e.Field != "" {
			t.Fatalf("born %s: %v; want AGE_OUT_OF_SCOPE starting %q", tc.birth, err, tc.want)
		}
	}

	_, err := Evaluate(y, Person{Gender: "x", Birth: d("1980-01-01")}, asOf)
	if e, ok := errs.As(err); !ok || e.Code != errs.InvalidInput || e.Field != "gender" || e.Message != "性别须为 male 或 female" {
		t.Fatalf("unknown gender: %v", err)
	}
}

// TestOptionFor: the option of a scheme is the recommended one or an alternative, and a scheme
// that is neither is refused with the zero Option.
func TestOptionFor(t *testing.T) {
	flexible := Result{Recommended: asFlexible, Alternatives: []Option{atVillage}}
	employed := Result{Recommended: viaEmployer, Alternatives: []Option{}}
	for _, tc := range []struct {
		name   string
		r      Result
		scheme string
		want   Option
		ok     bool
	}{
		{"recommended", flexible, EmployeePension, asFlexible, true},
		{"alternative", flexible, ResidentPension, atVillage, true},
		{"recommended, no alternatives", employed, EmployeePension, viaEmployer, true},
		{"not open", employed, ResidentPension, Option{}, false},
		{"unknown scheme", flexible, "other", Option{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.r.OptionFor(tc.scheme)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("OptionFor(%q) = %+v, %v; want %+v, %v", tc.scheme, got, ok, tc.want, tc.ok)
			}
			if tc.r.Allows(tc.scheme) != tc.ok {
				t.Fatalf("Allows(%q) = %v; want %v", tc.scheme, !tc.ok, tc.ok)
			}
		})
	}
}

// TestPersonFromMessages: each refusal says what is missing or wrong, an ID number's with the
// reason idcard gives, and a valid person keeps both flags.
func TestPersonFromMessages(t *testing.T) {
	today := d("2019-07-18")
	s := func(v string) *string { return &v }
	b := func(v bool) *bool { return &v }
	valid := idcard.Generate("350583", d("1970-05-05"), 2, idcard.Female)
	wrong := valid[:17] + "1"
	if valid[17] == '1' {
		wrong = valid[:17] + "2"
	}
	for _, tc := range []struct {
		name              string
		id, gender, birth *string
		code              errs.Code
		field, msg        string
	}{
		{"both forms", s(valid), nil, s("1970-05-05"), errs.InvalidInput, "id_number", "请填写身份证号码，或填写性别和出生日期，二者选其一"},
		{"bad checksum", s(wrong), nil, nil, errs.IDNumberInvalid, "id_number", "身份证号码校验位不正确"},
		{"too short", s("3505831970"), nil, nil, errs.IDNumberInvalid, "id_number", "身份证号码应为18位"},
		{"nothing", nil, nil, nil, errs.InvalidInput, "gender", "请填写身份证号码，或填写性别和出生日期"},
		{"no birth date", nil, s("female"), nil, errs.InvalidInput, "birth_date", "请填写出生日期"},
		{"bad gender", nil, s("m"), s("1970-01-01"), errs.InvalidInput, "gender", "性别须为 male 或 female"},
		{"bad date", nil, s("female"), s("1970-02-30"), errs.InvalidInput, "birth_date", "日期格式应为 YYYY-MM-DD"},
		{"future", nil, s("female"), s("2019-07-19"), errs.InvalidInput, "birth_date", "出生日期不能晚于今天"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PersonFrom(tc.id, tc.gender, tc.birth, b(false), b(false), today)
			e, ok := errs.As(err)
			if !ok || e.Code != tc.code || e.Field != tc.field || e.Message != tc.msg {
				t.Fatalf("got %v (%+v); want %s on %s: %q", err, e, tc.code, tc.field, tc.msg)
			}
		})
	}
	for _, tc := range []struct {
		name       string
		employed   *bool
		land       *bool
		field, msg string
	}{
		{"no employed", nil, b(true), "employed", "请说明目前是否就业"},
		{"no land flag", b(true), nil, "land_expropriated", "请说明是否为被征地农民"},
	} {
		_, err := PersonFrom(nil, s("male"), s("1970-01-01"), tc.employed, tc.land, today)
		if e, ok := errs.As(err); !ok || e.Field != tc.field || e.Message != tc.msg {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	p, err := PersonFrom(nil, s("female"), s("2019-07-18"), b(false), b(true), today)
	if err != nil || p.Gender != idcard.Female || !p.Birth.Equal(today) || p.Employed || !p.LandExpropriated {
		t.Fatalf("born today: %+v %v", p, err)
	}
	p, err = PersonFrom(s(valid), nil, nil, b(true), b(false), today)
	if err != nil || p.Gender != idcard.Female || !p.Birth.Equal(d("1970-05-05")) || !p.Employed || p.LandExpropriated {
		t.Fatalf("from the ID number: %+v %v", p, err)
	}
}
