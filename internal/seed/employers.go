package seed

import (
	"math/rand/v2"

	"github.com/canbao/canbao/internal/creditcode"
)

// Employer is a synthetic employer of the demo: a made-up name and a unified social credit
// code with both check characters computed (creditcode.Generate), so that the employer list and
// the referrals have something to show. No real firm is meant.
type Employer struct {
	Name string
	Code string
	// Weight is its share of the employed people who have a known employer.
	Weight int
}

// Employers are the demo's employers, largest first.
var Employers = []Employer{
	{"南安市罗东鞋业有限公司", creditcode.Generate("91", AreaCode, "MA2Y0A01"), 22},
	{"福建罗东石材有限公司", creditcode.Generate("91", AreaCode, "MA2Y0A02"), 16},
	{"南安市罗东纺织有限公司", creditcode.Generate("91", AreaCode, "MA2Y0A03"), 12},
	{"罗东镇宏达五金厂", creditcode.Generate("91", AreaCode, "MA2Y0A04"), 9},
	{"南安市罗东建筑工程有限公司", creditcode.Generate("91", AreaCode, "MA2Y0A05"), 9},
	{"罗东镇鑫源食品有限公司", creditcode.Generate("91", AreaCode, "MA2Y0A06"), 7},
	{"罗东镇华兴陶瓷厂", creditcode.Generate("91", AreaCode, "MA2Y0A07"), 6},
	{"南安市罗东物流有限公司", creditcode.Generate("91", AreaCode, "MA2Y0A08"), 5},
	{"罗东镇振兴汽车修理部", creditcode.Generate("92", AreaCode, "L2Y0A009"), 3},
	{"罗东镇罗溪小吃店", creditcode.Generate("92", AreaCode, "L2Y0A010"), 2},
	{"南安市罗东农机专业合作社", creditcode.Generate("93", AreaCode, "N2Y0A011"), 3},
	{"罗东镇中心幼儿园", creditcode.Generate("52", AreaCode, "M2Y0A012"), 2},
}

// Share of employed people whose employer the roster knows, in percent; the others are the
// employer list's 未知单位 row.
const employerKnownPercent = 80

// The employers' random stream: separate from the roster's, so that giving people employers
// changes nobody's status, age or ID number (the plan's figures stay as they were).
const (
	employerSeedHi = 20190718
	employerSeedLo = 14
)

// assignEmployers gives most employed people one of the demo's employers, from its own fixed
// random stream: the same roster gets the same employers on every machine.
func assignEmployers(people []person) {
	r := rand.New(rand.NewPCG(employerSeedHi, employerSeedLo))
	total := 0
	for _, e := range Employers {
		total += e.Weight
	}
	for i := range people {
		p := &people[i]
		if !p.Employed {
			continue
		}
		if r.IntN(100) >= employerKnownPercent {
			continue
		}
		n := r.IntN(total)
		for _, e := range Employers {
			if n < e.Weight {
				p.EmployerName, p.EmployerCode = e.Name, e.Code
				break
			}
			n -= e.Weight
		}
	}
}
