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
