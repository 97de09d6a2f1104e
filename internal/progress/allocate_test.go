package progress

import (
	"testing"

	"github.com/canbao/canbao/internal/seed"
)

func annexUnits(t *testing.T) ([]Unit, []seed.AnnexRow, seed.AnnexRow) {
	t.Helper()
	rows, total, err := seed.Annex()
	if err != nil {
		t.Fatal(err)
	}
	units := make([]Unit, len(rows))
	for i, r := range rows {
		units[i] = Unit{Code: r.Code, Name: r.Village, Unenrolled: r.Unenrolled}
	}
	return units, rows, total
}

// TestRoundReproducesThePrintedAnnex: each village rounded on its own gives the printed table,
// whose targets sum to 9778 (not 9777) and tasks to 7821 (not 7822); both are reported.
func TestRoundReproducesThePrintedAnnex(t *testing.T) {
	units, rows, total := annexUnits(t)
	a, err := Allocate(units, total.ExpansionTarget, map[string]float64{"2019": 0.8}, MethodRound)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		v := a.Villages[i]
		if v.ExpansionTarget != r.ExpansionTarget || v.Tasks["2019"] != r.Task2019 {
			t.Errorf("%s: got %d/%d, printed %d/%d", r.Village, v.ExpansionTarget, v.Tasks["2019"], r.ExpansionTarget, r.Task2019)
		}
	}
	if a.Total.ExpansionTarget != 9777 || a.Total.Tasks["2019"] != 7822 || a.Total.Unenrolled != 15733 {
		t.Fatalf("total row %+v", a.Total)
	}
	want := map[string][2]int{"expansion_target": {9778, 9777}, "tasks.2019": {7821, 7822}}
	if len(a.Warnings) != 2 {
		t.Fatalf("warnings %+v", a.Warnings)
	}
	for _, w := range a.Warnings {
		if p, ok := want[w.Column]; !ok || w.Sum != p[0] || w.Total != p[1] || w.Message == "" {
			t.Errorf("warning %+v", w)
		}
	}
}

func TestLargestRemainderSumsExactly(t *testing.T) {
	units, rows, _ := annexUnits(t)
	a, err := Allocate(units, 9777, map[string]float64{"2019": 0.8, "2020": 1}, MethodLargestRemainder)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Warnings) != 0 {
		t.Fatalf("warnings %+v", a.Warnings)
	}
	sum, sum19, sum20 := 0, 0, 0
	for i, v := range a.Villages {
		sum += v.ExpansionTarget
		sum19 += v.Tasks["2019"]
		sum20 += v.Tasks["2020"]
		if d := v.ExpansionTarget - rows[i].ExpansionTarget; d < -1 || d > 1 {
			t.Errorf("%s moved by %d from the printed figure", v.Name, d)
		}
	}
	if sum != 9777 || sum19 != 7822 || sum20 != 9777 {
		t.Fatalf("sums %d %d %d", sum, sum19, sum20)
	}
}

func TestAllocateRefusesNonsense(t *testing.T) {
	units, _, _ := annexUnits(t)
	if _, err := Allocate(units, 0, nil, MethodRound); err == nil {
		t.Fatal("zero quota")
	}
	if _, err := Allocate(units, 10, nil, "dice"); err == nil {
		t.Fatal("unknown method")
	}
	if _, err := Allocate([]Unit{{Code: "a"}}, 10, nil, MethodRound); err == nil {
		t.Fatal("no unenrolled")
	}
}
