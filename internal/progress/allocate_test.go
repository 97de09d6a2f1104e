package progress_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/canbao/canbao/internal/progress"
	"github.com/canbao/canbao/internal/seed"
)

func annexUnits(t *testing.T) ([]progress.Unit, []seed.AnnexRow, seed.AnnexRow) {
	t.Helper()
	rows, total, err := seed.Annex()
	if err != nil {
		t.Fatal(err)
	}
	units := make([]progress.Unit, len(rows))
	for i, r := range rows {
		units[i] = progress.Unit{Code: r.Code, Name: r.Village, Unenrolled: r.Unenrolled}
	}
	return units, rows, total
}

// TestRoundReproducesThePrintedAnnex: each village rounded on its own gives the printed table,
// whose targets sum to 9778 (not 9777) and tasks to 7821 (not 7822); both are reported.
func TestRoundReproducesThePrintedAnnex(t *testing.T) {
	units, rows, total := annexUnits(t)
	a, err := progress.Allocate(units, total.ExpansionTarget, map[string]float64{"2019": 0.8}, progress.MethodRound)
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
	a, err := progress.Allocate(units, 9777, map[string]float64{"2019": 0.8, "2020": 1}, progress.MethodLargestRemainder)
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
	if _, err := progress.Allocate(units, 0, nil, progress.MethodRound); err == nil {
		t.Fatal("zero quota")
	}
	if _, err := progress.Allocate(units, 10, nil, "dice"); err == nil {
		t.Fatal("unknown method")
	}
	if _, err := progress.Allocate([]progress.Unit{{Code: "a"}}, 10, nil, progress.MethodRound); err == nil {
		t.Fatal("no unenrolled")
	}
}

func alloc(t *testing.T, units []progress.Unit, quota int, milestones map[string]float64, method string) progress.Allocation {
	t.Helper()
	a, err := progress.Allocate(units, quota, milestones, method)
	if err != nil {
		t.Fatalf("Allocate(%v, %d, %s): %v", units, quota, method, err)
	}
	return a
}

func ints(a progress.Allocation, col string) []int {
	out := make([]int, len(a.Villages))
	for i, v := range a.Villages {
		if col == "" {
			out[i] = v.ExpansionTarget
		} else {
			out[i] = v.Tasks[col]
		}
	}
	return out
}

// TestAllocateExactTables pins every cell of small tables worked out by hand: the share (to 4
// places), each column under both methods, and the warnings. Largest remainder hands the
// leftover units to the largest fractional parts, largest first; 45/35/20 of 7 is 3.15/2.45/1.4,
// so the one unit left after 3+2+1 goes to the 0.45 (not the 0.15 of the largest village).
func TestAllocateExactTables(t *testing.T) {
	abc := []progress.Unit{{Code: "a", Name: "甲村", Unenrolled: 45}, {Code: "b", Name: "乙村", Unenrolled: 35}, {Code: "c", Name: "丙村", Unenrolled: 20}}
	for _, c := range []struct {
		name       string
		units      []progress.Unit
		quota      int
		milestones map[string]float64
		method     string
		shares     []float64
		targets    []int
		tasks      map[string][]int
		totals     map[string]int
		warnings   []progress.Warning
	}{
		{name: "45/35/20 of 7, largest remainder", units: abc, quota: 7, milestones: map[string]float64{"2020": 0.5, "2021": 1},
			method: progress.MethodLargestRemainder, shares: []float64{3.15, 2.45, 1.4}, targets: []int{3, 3, 1},
			// 2020: 1.575/1.225/0.7 of 4 (3.5 rounded up): floors 1+1+0, then 0.7 and 0.575.
			tasks:  map[string][]int{"2020": {2, 1, 1}, "2021": {3, 3, 1}},
			totals: map[string]int{"2020": 4, "2021": 7}, warnings: []progress.Warning{}},
		{name: "45/35/20 of 7, rounded", units: abc, quota: 7, milestones: map[string]float64{"2020": 0.5},
			method: progress.MethodRound, shares: []float64{3.15, 2.45, 1.4}, targets: []int{3, 2, 1},
			tasks: map[string][]int{"2020": {2, 1, 1}}, totals: map[string]int{"2020": 4},
			warnings: []progress.Warning{{Code: "ROWS_DO_NOT_SUM_TO_TOTAL", Column: "expansion_target", Sum: 6, Total: 7,
				Message: "各村应扩面人数合计6，与总数7不符"}}},
		{name: "thirds of 10", units: []progress.Unit{{Code: "a", Unenrolled: 1}, {Code: "b", Unenrolled: 2}}, quota: 10,
			milestones: map[string]float64{"2019": 0.8}, method: progress.MethodLargestRemainder,
			// 2019: 2.6667/5.3333 of 8: floors 2+5, then 0.6667.
			shares: []float64{3.3333, 6.6667}, targets: []int{3, 7}, tasks: map[string][]int{"2019": {3, 5}},
			totals: map[string]int{"2019": 8}, warnings: []progress.Warning{}},
		{name: "thirds of 10, rounded", units: []progress.Unit{{Code: "a", Unenrolled: 1}, {Code: "b", Unenrolled: 2}}, quota: 10,
			milestones: map[string]float64{"2019": 0.8}, method: progress.MethodRound,
			shares: []float64{3.3333, 6.6667}, targets: []int{3, 7}, tasks: map[string][]int{"2019": {3, 5}},
			totals: map[string]int{"2019": 8}, warnings: []progress.Warning{}},
		// Rounding half up: 0.5 and 2.5 go up (not to even), and 2.5+0.5 = 3 of 3 leaves nothing over.
		{name: "halves rounded up", units: []progress.Unit{{Code: "a", Unenrolled: 5}, {Code: "b", Unenrolled: 1}}, quota: 3,
			milestones: map[string]float64{"2020": 0.5}, method: progress.MethodRound,
			// 2020: 1.25/0.25 of 1.5 rounded up to 2; the rows give 1+0.
			shares: []float64{2.5, 0.5}, targets: []int{3, 1}, tasks: map[string][]int{"2020": {1, 0}},
			totals: map[string]int{"2020": 2}, warnings: []progress.Warning{
				{Code: "ROWS_DO_NOT_SUM_TO_TOTAL", Column: "expansion_target", Sum: 4, Total: 3, Message: "各村应扩面人数合计4，与总数3不符"},
				{Code: "ROWS_DO_NOT_SUM_TO_TOTAL", Column: "tasks.2020", Sum: 1, Total: 2, Message: "各村2020年任务数合计1，与总数2不符"}}},
		{name: "one village takes all", units: []progress.Unit{{Code: "a", Unenrolled: 9}}, quota: 5,
			milestones: map[string]float64{"2020": 0.3}, method: progress.MethodLargestRemainder,
			// 2020: 1.5 of 2 (1.5 rounded up): floor 1, then the 0.5.
			shares: []float64{5}, targets: []int{5}, tasks: map[string][]int{"2020": {2}},
			totals: map[string]int{"2020": 2}, warnings: []progress.Warning{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := alloc(t, c.units, c.quota, c.milestones, c.method)
			if a.Quota != c.quota || a.Method != c.method || a.Total.ExpansionTarget != c.quota {
				t.Fatalf("header %d %s %d", a.Quota, a.Method, a.Total.ExpansionTarget)
			}
			sum := 0
			for i, u := range c.units {
				sum += u.Unenrolled
				v := a.Villages[i]
				if v.Code != u.Code || v.Name != u.Name || v.Unenrolled != u.Unenrolled || v.Share != c.shares[i] {
					t.Errorf("row %d: %+v, want %+v share %v", i, v, u, c.shares[i])
				}
			}
			if a.Total.Unenrolled != sum {
				t.Errorf("total unenrolled %d, want %d", a.Total.Unenrolled, sum)
			}
			if got := ints(a, ""); !slices.Equal(got, c.targets) {
				t.Errorf("targets %v, want %v", got, c.targets)
			}
			for y, want := range c.tasks {
				if got := ints(a, y); !slices.Equal(got, want) {
					t.Errorf("tasks %s: %v, want %v", y, got, want)
				}
			}
			if !maps.Equal(a.Total.Tasks, c.totals) {
				t.Errorf("task totals %v, want %v", a.Total.Tasks, c.totals)
			}
			if !slices.Equal(a.Warnings, c.warnings) {
				t.Errorf("warnings %+v\nwant %+v", a.Warnings, c.warnings)
			}
		})
	}
}

// TestLargestRemainderTiesGoToTheEarlierVillage: equal fractional parts are served in the
// order the villages were given (a stable sort), so the same input always gives the same table.
func TestLargestRemainderTiesGoToTheEarlierVillage(t *testing.T) {
	for _, c := range []struct {
		units []int
		quota int
		want  []int
	}{
		{[]int{1, 1, 1}, 1, []int{1, 0, 0}},
		{[]int{1, 1, 1}, 2, []int{1, 1, 0}},
		{[]int{1, 1, 1, 1}, 2, []int{1, 1, 0, 0}},                          // exact halves: floors 0, all 0.5
		{[]int{2, 1, 1}, 2, []int{1, 1, 0}},                                // 1 + 0.5 + 0.5: the tie goes to the second
		{[]int{1, 2, 1}, 2, []int{1, 1, 0}},                                // 0.5 + 1 + 0.5: to the first 0.5
		{[]int{3, 1, 1, 1}, 3, []int{2, 1, 0, 0}},                          // 1.5 + 0.5 x3: four 0.5s, the first two villages
		{[]int{10, 10, 10, 10, 10, 10, 10}, 3, []int{1, 1, 1, 0, 0, 0, 0}}, // sevenths
	} {
		units := make([]progress.Unit, len(c.units))
		for i, n := range c.units {
			units[i] = progress.Unit{Code: string(rune('a' + i)), Unenrolled: n}
		}
		a := alloc(t, units, c.quota, nil, progress.MethodLargestRemainder)
		if got := ints(a, ""); !slices.Equal(got, c.want) {
			t.Errorf("%v of %d: %v, want %v", c.units, c.quota, got, c.want)
		}
		if len(a.Warnings) != 0 || len(a.Total.Tasks) != 0 {
			t.Errorf("%v of %d: warnings %v tasks %v", c.units, c.quota, a.Warnings, a.Total.Tasks)
		}
	}
}

func TestAllocateErrorsSayWhy(t *testing.T) {
	units := []progress.Unit{{Code: "a", Unenrolled: 3}}
	for _, c := range []struct {
		units  []progress.Unit
		quota  int
		method string
		want   string
	}{
		{units, 0, progress.MethodRound, "quota must be positive"},
		{units, -1, progress.MethodLargestRemainder, "quota must be positive"},
		{units, 1, "dice", `unknown method "dice"`},
		{units, 1, "", `unknown method ""`},
		{[]progress.Unit{{Code: "a"}, {Code: "b"}}, 1, progress.MethodLargestRemainder, "no unenrolled people to allocate over"},
		{nil, 1, progress.MethodRound, "no unenrolled people to allocate over"},
	} {
		_, err := progress.Allocate(c.units, c.quota, nil, c.method)
		if err == nil || err.Error() != c.want {
			t.Errorf("Allocate(%v, %d, %q) = %v, want %q", c.units, c.quota, c.method, err, c.want)
		}
	}
	// The smallest valid call works under both methods.
	for _, m := range []string{progress.MethodRound, progress.MethodLargestRemainder} {
		if got := ints(alloc(t, units, 1, nil, m), ""); !slices.Equal(got, []int{1}) {
			t.Errorf("%s: 1 of 1: %v", m, got)
		}
	}
}
