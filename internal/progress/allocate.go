// Package progress is what the labour office reads: the split of the town's quota into
// village targets and yearly tasks, progress against them, the monthly bulletin (按月通报) and
// the year-end assessment (绩效考核). It reads the plan's baseline and the maintained daily
// enrollment counts, never the roster.
package progress

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Methods of allocation.
const (
	MethodRound            = "round"
	MethodLargestRemainder = "largest_remainder"
)

// Unit is one village's basis for the split.
type Unit struct {
	Code, Name string
	Unenrolled int
}

// AllocRow is one village's allocation.
type AllocRow struct {
	Code            string         `json:"code"`
	Name            string         `json:"name"`
	Unenrolled      int            `json:"unenrolled"`
	Share           float64        `json:"share"`
	ExpansionTarget int            `json:"expansion_target"`
	Tasks           map[string]int `json:"tasks"`
}

// AllocTotal is the table's total row: the quota and its milestone fractions.
type AllocTotal struct {
	Unenrolled      int            `json:"unenrolled"`
	ExpansionTarget int            `json:"expansion_target"`
	Tasks           map[string]int `json:"tasks"`
}

// Warning says a column's rows do not add up to its total.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Column  string `json:"column"`
	Sum     int    `json:"sum"`
	Total   int    `json:"total"`
}

// Allocation is the whole table.
type Allocation struct {
	Quota    int        `json:"quota"`
	Method   string     `json:"method"`
	Villages []AllocRow `json:"villages"`
	Total    AllocTotal `json:"total"`
	Warnings []Warning  `json:"warnings"`
}

// roundHalfUp rounds as the printed table does (x.5 up).
func roundHalfUp(x float64) int { return int(math.Floor(x + 0.5)) }

// Allocate splits quota over units in proportion to their unenrolled counts. Each village's
// target is its share; each year's task is that year's milestone fraction of the unrounded
// share. MethodRound rounds each cell on its own, as the printed 2019 annex does;
// MethodLargestRemainder makes each column add up exactly to its total.
func Allocate(units []Unit, quota int, milestones map[string]float64, method string) (Allocation, error) {
	if quota <= 0 {
		return Allocation{}, fmt.Errorf("quota must be positive")
	}
	if method != MethodRound && method != MethodLargestRemainder {
		return Allocation{}, fmt.Errorf("unknown method %q", method)
	}
	sumU := 0
	for _, u := range units {
		sumU += u.Unenrolled
	}
	if sumU == 0 {
		return Allocation{}, fmt.Errorf("no unenrolled people to allocate over")
	}
	years := make([]string, 0, len(milestones))
	for y := range milestones {
		years = append(years, y)
	}
	sort.Strings(years)

	a := Allocation{Quota: quota, Method: method, Villages: make([]AllocRow, len(units)), Warnings: []Warning{},
		Total: AllocTotal{Unenrolled: sumU, ExpansionTarget: quota, Tasks: map[string]int{}}}
	shares := make([]float64, len(units))
	for i, u := range units {
		shares[i] = float64(quota) * float64(u.Unenrolled) / float64(sumU)
		a.Villages[i] = AllocRow{Code: u.Code, Name: u.Name, Unenrolled: u.Unenrolled, Share: math.Round(shares[i]*1e4) / 1e4, Tasks: map[string]int{}}
	}
	targets := apportion(shares, quota, method)
	for i := range units {
		a.Villages[i].ExpansionTarget = targets[i]
	}
	a.Warnings = appendWarning(a.Warnings, "expansion_target", "应扩面人数", targets, quota)
	for _, y := range years {
		r := milestones[y]
		total := roundHalfUp(float64(quota) * r)
		a.Total.Tasks[y] = total
		scaled := make([]float64, len(shares))
		for i, s := range shares {
			scaled[i] = s * r
		}
		tasks := apportion(scaled, total, method)
		for i := range units {
			a.Villages[i].Tasks[y] = tasks[i]
		}
		a.Warnings = appendWarning(a.Warnings, "tasks."+y, y+"年任务数", tasks, total)
	}
	return a, nil
}

// apportion turns real shares into whole numbers.
func apportion(shares []float64, total int, method string) []int {
	out := make([]int, len(shares))
	if method == MethodRound {
		for i, s := range shares {
			out[i] = roundHalfUp(s)
		}
		return out
	}
	type rem struct {
		i    int
		frac float64
	}
	rems := make([]rem, len(shares))
	given := 0
	for i, s := range shares {
		out[i] = int(math.Floor(s))
		given += out[i]
		rems[i] = rem{i, s - math.Floor(s)}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].frac > rems[b].frac })
	for k := 0; k < total-given && k < len(rems); k++ {
		out[rems[k].i]++
	}
	return out
}

func appendWarning(ws []Warning, column, label string, rows []int, total int) []Warning {
	sum := 0
	for _, v := range rows {
		sum += v
	}
	if sum == total {
		return ws
	}
	return append(ws, Warning{Code: "ROWS_DO_NOT_SUM_TO_TOTAL", Column: column, Sum: sum, Total: total,
		Message: "各村" + label + "合计" + strconv.Itoa(sum) + "，与总数" + strconv.Itoa(total) + "不符"})
}
