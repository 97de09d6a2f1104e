// Package eligibility implements the guidance rule of the Luodong plan (罗政〔2019〕185号,
// section 二(二)): which pension scheme an uninsured person aged 16-59 should join, through
// which channel, and where to register. Its bounds come from the year's policy configuration.
package eligibility

import (
	"fmt"
	"slices"
	"time"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/rules"
)

// Schemes, channels and places of registration (docs/ARCHITECTURE.md, "Glossary").
const (
	ResidentPension = "resident_pension"
	EmployeePension = "employee_pension"

	ChannelVillage  = "village"
	ChannelFlexible = "flexible"
	ChannelEmployer = "employer"

	AtVillage    = "village"
	AtCityCenter = "city_center"
	AtEmployer   = "employer"
)

// Option is one way to join.
type Option struct {
	Scheme     string `json:"scheme"`
	Channel    string `json:"channel"`
	RegisterAt string `json:"register_at"`
}

var (
	viaEmployer = Option{EmployeePension, ChannelEmployer, AtEmployer}
	asFlexible  = Option{EmployeePension, ChannelFlexible, AtCityCenter}
	atVillage   = Option{ResidentPension, ChannelVillage, AtVillage}
)

// Person is what the rule looks at.
type Person struct {
	Gender           idcard.Gender
	Birth            time.Time
	Employed         bool
	LandExpropriated bool
}

// Result is the recommendation with its alternatives and a reason a resident understands.
type Result struct {
	Age             int           `json:"age"`
	Gender          idcard.Gender `json:"gender"`
	Recommended     Option        `json:"recommended"`
	Alternatives    []Option      `json:"alternatives"`
	SubsidyEligible bool          `json:"subsidy_eligible"`
	Reason          string        `json:"reason"`
}

// Allows reports whether the person may choose scheme (recommended or an alternative).
func (r Result) Allows(scheme string) bool {
	return r.Recommended.Scheme == scheme || slices.ContainsFunc(r.Alternatives, func(o Option) bool { return o.Scheme == scheme })
}

// OptionFor returns the recommended or alternative option of a scheme.
func (r Result) OptionFor(scheme string) (Option, bool) {
	if r.Recommended.Scheme == scheme {
		return r.Recommended, true
	}
	for _, o := range r.Alternatives {
		if o.Scheme == scheme {
			return o, true
		}
	}
	return Option{}, false
}

// ageOutOfScope is the error for a person outside the rule's age range (AGE_OUT_OF_SCOPE).
func ageOutOfScope(age, lo, hi int) error {
	return errs.New(errs.AgeOutOfScope, fmt.Sprintf("全民参保扩面对象为 %d 至 %d 周岁人员，您目前 %d 周岁。如需咨询其他养老保险政策，请联系所在村（居）委会。", lo, hi, age))
}

var genderName = map[idcard.Gender]string{idcard.Male: "男性", idcard.Female: "女性"}

// Evaluate applies the rule on the date asOf (a civil date in Asia/Shanghai).
func Evaluate(y *rules.Year, p Person, asOf time.Time) (Result, error) {
	g := y.Guidance
	age := idcard.AgeOn(p.Birth, asOf)
	if age < g.MinAge || age > g.MaxAge {
		return Result{}, ageOutOfScope(age, g.MinAge, g.MaxAge)
	}
	threshold, ok := g.ResidentPensionMinAge[string(p.Gender)]
	if !ok {
		return Result{}, errs.Field(errs.InvalidInput, "gender", "性别须为 male 或 female")
	}
	r := Result{Age: age, Gender: p.Gender, Alternatives: []Option{}}
	who := fmt.Sprintf("您是 %d 周岁的%s", age, genderName[p.Gender])
	switch {
	case p.Employed:
		// 二(二)1: employed people are insured by their employer.
		r.Recommended = viaEmployer
		r.Reason = who + "，目前已就业。按照规定，应由用人单位为您办理企业职工基本养老保险参保登记，请向单位人事或财务部门咨询。"
	case p.LandExpropriated && g.LandSubsidy:
		// 二(二)3: land-expropriated farmers are guided to the employee pension with a subsidy.
		r.Recommended = asFlexible
		r.Alternatives = append(r.Alternatives, atVillage)
		r.Reason = who + "，属于被征地农民。政策引导有条件的被征地农民以灵活就业人员身份参加企业职工基本养老保险，并按规定给予参保缴费补贴，请到南安市社会保险管理中心办理。如暂不具备条件，也可在所在村（居）参加城乡居民基本养老保险。"
	case age >= threshold:
		// 二(二)2(1): not employed, men 45+ and women 40+ join the resident pension.
		r.Recommended = atVillage
		r.Alternatives = append(r.Alternatives, asFlexible)
		r.Reason = fmt.Sprintf("%s，目前未就业。按照规定，男 45 周岁、女 40 周岁及以上的未参保人员，引导参加城乡居民基本养老保险，可直接在所在村（居）办理参保登记并选择缴费档次。如您愿意，也可以灵活就业人员身份参加企业职工基本养老保险。", who)
	default:
		// 二(二)2(2): younger people who are not employed: primarily the employee pension as
		// flexible workers, the resident pension if they are unwilling.
		r.Recommended = asFlexible
		r.Alternatives = append(r.Alternatives, atVillage)
		r.Reason = fmt.Sprintf("%s，目前未就业。按照规定，男 45 周岁、女 40 周岁以下的未参保人员，主要引导以灵活就业人员身份参加企业职工基本养老保险，请到南安市社会保险管理中心办理；如不愿意参加，也可在所在村（居）参加城乡居民基本养老保险。", who)
	}
	r.SubsidyEligible = p.LandExpropriated && g.LandSubsidy && r.Recommended.Scheme == EmployeePension
	return r, nil
}
