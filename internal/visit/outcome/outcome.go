// Package outcome names the outcomes of a visit and the reasons people stay out (the source
// document's four). It imports nothing, so that the roster, which filters people on their last
// visit's outcome, can read them while the visit package writes the roster through it.
package outcome

// Outcomes of a visit (VisitOutcome in api/openapi.yaml).
const (
	Enrolled         = "enrolled"
	Agreed           = "agreed"
	Considering      = "considering"
	Refused          = "refused"
	NotHome          = "not_home"
	MovedAway        = "moved_away"
	InsuredElsewhere = "insured_elsewhere"
	Deceased         = "deceased"
)

// Reasons people stay out (VisitReason in api/openapi.yaml).
const (
	ReasonUnwilling    = "unwilling"
	ReasonUnable       = "unable"
	ReasonInconvenient = "inconvenient"
	ReasonCannotAfford = "cannot_afford"
)

// Outcomes of a visit and the reasons people stay out.
var (
	Outcomes = map[string]bool{Enrolled: true, Agreed: true, Considering: true, Refused: true,
		NotHome: true, MovedAway: true, InsuredElsewhere: true, Deceased: true}
	Reasons = map[string]bool{ReasonUnwilling: true, ReasonUnable: true, ReasonInconvenient: true, ReasonCannotAfford: true}
)

// Outcome and reason codes in the order reports list them (the order of the constants above).
var (
	OutcomeOrder = []string{Enrolled, Agreed, Considering, Refused, NotHome, MovedAway, InsuredElsewhere, Deceased}
	ReasonOrder  = []string{ReasonUnwilling, ReasonUnable, ReasonInconvenient, ReasonCannotAfford}
)

// Chinese labels of the outcomes and reasons, as the console shows them (web/src/lib/labels.ts;
// a test keeps the two equal), for answers and reports that carry a label beside each code.
var (
	OutcomeLabels = map[string]string{Enrolled: "已参保", Agreed: "同意参保", Considering: "考虑中", Refused: "拒绝",
		NotHome: "不在家", MovedAway: "已迁出", InsuredElsewhere: "外地参保", Deceased: "已故"}
	ReasonLabels = map[string]string{ReasonUnwilling: "不愿参保", ReasonUnable: "不能参保", ReasonInconvenient: "不便参保",
		ReasonCannotAfford: "缴不起费"}
)

// StaysOut reports whether an outcome leaves the person out for now with a possible reason
// (the outcomes a visit may give a reason for: refused and considering).
func StaysOut(o string) bool { return o == Refused || o == Considering }
