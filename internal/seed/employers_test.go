package seed

import (
	"testing"

	"github.com/canbao/canbao/internal/creditcode"
)

// TestDemoEmployers: the demo's employers have valid codes, only employed people have one, about
// employerKnownPercent of the employed do, and several employers have employed, unenrolled
// people in more than one village (so the employer list has something to show).
func TestDemoEmployers(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Employers {
		if !creditcode.Valid(e.Code) || seen[e.Code] {
			t.Errorf("%s: code %s invalid or repeated", e.Name, e.Code)
		}
		seen[e.Code] = true
	}
	rows, _, err := Annex()
	if err != nil {
		t.Fatal(err)
	}
	people, err := roster(rows)
	if err != nil {
		t.Fatal(err)
	}
	employed, known := 0, 0
	villages := map[string]map[string]bool{}
	for _, p := range people {
		if p.EmployerCode != "" && !p.Employed {
			t.Fatalf("a person not employed has an employer")
		}
		if p.Employed {
			employed++
		}
		if p.EmployerCode != "" {
			known++
			if p.Status == StatusUnenrolled {
				if villages[p.EmployerCode] == nil {
					villages[p.EmployerCode] = map[string]bool{}
				}
				villages[p.EmployerCode][p.Village] = true
			}
		}
	}
	if share := float64(known) / float64(employed); share < 0.77 || share > 0.83 {
		t.Errorf("%d of %d employed people have an employer (%.2f)", known, employed, share)
	}
	spread := 0
	for _, vs := range villages {
		if len(vs) > 1 {
			spread++
		}
	}
	if spread < 5 {
		t.Errorf("only %d employers have unenrolled employees in several villages", spread)
	}
}
