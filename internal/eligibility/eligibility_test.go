package eligibility

import (
	"testing"
	"time"

	"github.com/canbao/canbao/configs"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/rules"
)

func year(t *testing.T) *rules.Year {
	t.Helper()
	b, err := rules.Load(configs.Policy)
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.For(2019)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func d(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestGuidanceRuleBoundaries checks the rule of section 二(二) on the days around each
// birthday that changes the answer: the 16th and 60th (scope), the 45th (men) and 40th (women).
func TestGuidanceRuleBoundaries(t *testing.T) {
	y := year(t)
	asOf := d("2019-07-18")
	cases := []struct {
		name      string
		gender    idcard.Gender
		birth     string
		employed  bool
		land      bool
		wantErr   errs.Code
		want      Option
		wantAge   int
		alts      []string
		subsidy   bool
		allowsRes bool
	}{
		// scope: 16 and 60
		{name: "one day before 16", gender: idcard.Male, birth: "2003-07-19", wantErr: errs.AgeOutOfScope},
		{name: "16th birthday", gender: idcard.Male, birth: "2003-07-18", want: asFlexible, wantAge: 16, alts: []string{ResidentPension}, allowsRes: true},
		{name: "day before 60th birthday", gender: idcard.Female, birth: "1959-07-19", want: atVillage, wantAge: 59, alts: []string{EmployeePension}, allowsRes: true},
		{name: "60th birthday", gender: idcard.Female, birth: "1959-07-18", wantErr: errs.AgeOutOfScope},
		// men: 45
		{name: "man day before 45", gender: idcard.Male, birth: "1974-07-19", want: asFlexible, wantAge: 44, alts: []string{ResidentPension}, allowsRes: true},
		{name: "man on 45th birthday", gender: idcard.Male, birth: "1974-07-18", want: atVillage, wantAge: 45, alts: []string{EmployeePension}, allowsRes: true},
		{name: "man day after 45th birthday", gender: idcard.Male, birth: "1974-07-17", want: atVillage, wantAge: 45, alts: []string{EmployeePension}, allowsRes: true},
		// women: 40
		{name: "woman day before 40", gender: idcard.Female, birth: "1979-07-19", want: asFlexible, wantAge: 39, alts: []string{ResidentPension}, allowsRes: true},
		{name: "woman on 40th birthday", gender: idcard.Female, birth: "1979-07-18", want: atVillage, wantAge: 40, alts: []string{EmployeePension}, allowsRes: true},
		{name: "man of 40 is still young", gender: idcard.Male, birth: "1979-07-18", want: asFlexible, wantAge: 40, alts: []string{ResidentPension}, allowsRes: true},
		// employed: employer, whatever the age; the resident pension is not open
		{name: "employed young", gender: idcard.Female, birth: "1995-01-01", employed: true, want: viaEmployer, wantAge: 24},
		{name: "employed old", gender: idcard.Male, birth: "1965-01-01", employed: true, want: viaEmployer, wantAge: 54},
		{name: "employed land-expropriated", gender: idcard.Male, birth: "1980-01-01", employed: true, land: true, want: viaEmployer, wantAge: 39, subsidy: true},
		// land-expropriated, not employed: employee pension with a subsidy, at any age
		{name: "land-expropriated older woman", gender: idcard.Female, birth: "1965-03-03", land: true, want: asFlexible, wantAge: 54, alts: []string{ResidentPension}, subsidy: true, allowsRes: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Evaluate(y, Person{Gender: tc.gender, Birth: d(tc.birth), Employed: tc.employed, LandExpropriated: tc.land}, asOf)
			if tc.wantErr != "" {
				e, ok := errs.As(err)
				if !ok || e.Code != tc.wantErr || e.Message == "" {
					t.Fatalf("got %v %+v, want %s", err, r, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Recommended != tc.want || r.Age != tc.wantAge || r.SubsidyEligible != tc.subsidy {
				t.Fatalf("got %+v", r)
			}
			var alts []string
			for _, a := range r.Alternatives {
				alts = append(alts, a.Scheme)
			}
			if len(alts) != len(tc.alts) || (len(alts) > 0 && alts[0] != tc.alts[0]) {
				t.Fatalf("alternatives %v, want %v", alts, tc.alts)
			}
			if r.Allows(ResidentPension) != tc.allowsRes {
				t.Fatalf("resident pension allowed = %v", r.Allows(ResidentPension))
			}
			if r.Reason == "" {
				t.Fatal("no reason")
			}
		})
	}
}

func TestLeapDayBirth(t *testing.T) {
	y := year(t)
	// Born 1980-02-29: 40 on 2020-02-29; in a non-leap year the birthday counts on 1 March.
	p := Person{Gender: idcard.Female, Birth: d("1979-02-28")}
	r, _ := Evaluate(y, p, d("2019-02-28"))
	if r.Age != 40 || r.Recommended != atVillage {
		t.Fatalf("%+v", r)
	}
	p.Birth = d("1980-02-29")
	r, _ = Evaluate(y, p, d("2020-02-28"))
	if r.Age != 39 || r.Recommended != asFlexible {
		t.Fatalf("day before a leap birthday: %+v", r)
	}
	r, _ = Evaluate(y, p, d("2020-02-29"))
	if r.Age != 40 || r.Recommended != atVillage {
		t.Fatalf("on a leap birthday: %+v", r)
	}
}

func TestBoundsComeFromConfiguration(t *testing.T) {
	y := *year(t)
	y.Guidance.ResidentPensionMinAge = map[string]int{"male": 50, "female": 45}
	r, err := Evaluate(&y, Person{Gender: idcard.Male, Birth: d("1972-01-01")}, d("2019-07-18"))
	if err != nil || r.Recommended != asFlexible {
		t.Fatalf("a 47-year-old man under a 50 threshold: %+v %v", r, err)
	}
}

func TestPersonFromValidation(t *testing.T) {
	today := d("2019-07-18")
	s := func(v string) *string { return &v }
	b := func(v bool) *bool { return &v }
	valid := idcard.Generate("350583", d("1970-05-05"), 1, idcard.Male)
	cases := []struct {
		name              string
		id, gender, birth *string
		employed, land    *bool
		field             string
	}{
		{"both forms", s(valid), s("male"), nil, b(false), b(false), "id_number"},
		{"bad checksum", s(valid[:17] + "0"), nil, nil, b(false), b(false), "id_number"},
		{"nothing", nil, nil, nil, b(false), b(false), "gender"},
		{"no birth date", nil, s("male"), nil, b(false), b(false), "birth_date"},
		{"bad gender", nil, s("m"), s("1970-01-01"), b(false), b(false), "gender"},
		{"bad date", nil, s("male"), s("1970-02-30"), b(false), b(false), "birth_date"},
		{"future", nil, s("male"), s("2020-01-01"), b(false), b(false), "birth_date"},
		{"no employed", s(valid), nil, nil, nil, b(false), "employed"},
		{"no land flag", s(valid), nil, nil, b(false), nil, "land_expropriated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PersonFrom(tc.id, tc.gender, tc.birth, tc.employed, tc.land, today)
			e, ok := errs.As(err)
			if !ok || e.Field != tc.field || errs.Status(e.Code) != 400 {
				t.Fatalf("got %v, want a 400 on %s", err, tc.field)
			}
		})
	}
	p, err := PersonFrom(s(valid), nil, nil, b(true), b(false), today)
	if err != nil || p.Gender != idcard.Male || !p.Birth.Equal(d("1970-05-05")) || !p.Employed {
		t.Fatalf("%+v %v", p, err)
	}
}
