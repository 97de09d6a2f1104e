// Package outcome names the outcomes of a visit and the reasons people stay out (the source
// document's four). It imports nothing, so that the roster, which filters people on their last
// visit's outcome, can read them while the visit package writes the roster through it.
package outcome

// Outcomes of a visit and the reasons people stay out.
var (
	Outcomes = map[string]bool{"enrolled": true, "agreed": true, "considering": true, "refused": true,
		"not_home": true, "moved_away": true, "insured_elsewhere": true, "deceased": true}
	Reasons = map[string]bool{"unwilling": true, "unable": true, "inconvenient": true, "cannot_afford": true}
)
