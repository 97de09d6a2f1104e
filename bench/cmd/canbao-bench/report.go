package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// side is one side of a comparison: canbao, or its baseline.
type side struct {
	What    string         `json:"what"`
	Value   float64        `json:"value"` // median of the runs
	Unit    string         `json:"unit"`
	Runs    []float64      `json:"runs"`
	P50Ms   float64        `json:"p50_ms,omitempty"` // HTTP: median of the runs' p50
	P99Ms   float64        `json:"p99_ms,omitempty"` // HTTP: median of the runs' p99
	P99Runs []float64      `json:"p99_ms_runs,omitempty"`
	Extra   map[string]any `json:"extra,omitempty"`
}

func (s *side) add(v float64) { s.Runs = append(s.Runs, v) }

func (s *side) settle() {
	s.Value = median(s.Runs)
	if len(s.P99Runs) > 0 {
		s.P99Ms = median(s.P99Runs)
	}
}

func (s *side) extra(k string, v any) {
	if s.Extra == nil {
		s.Extra = map[string]any{}
	}
	s.Extra[k] = v
}

// result is one workload's row.
type result struct {
	ID       string    `json:"id"`
	Workload string    `json:"workload"`
	Canbao   side      `json:"canbao"`
	Baseline side      `json:"baseline"`
	Ratio    float64   `json:"ratio"`
	RatioDef string    `json:"ratio_definition"`
	Goal     string    `json:"goal"`
	Met      bool      `json:"met"`
	Repeats  int       `json:"repeats"`
	Load1    []float64 `json:"loadavg_1m_at_each_repeat"`
	CPUBusy  float64   `json:"machine_cpu_busy"`       // share of all CPUs busy during the workload
	CPUOther float64   `json:"cpu_of_other_processes"` // share of all CPUs used by processes outside the benchmark
	IOWait   float64   `json:"cpu_iowait"`             // share of all CPUs idle waiting for I/O
	Notes    []string  `json:"notes,omitempty"`
}

func (r *result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// machine describes where the figures come from.
type machine struct {
	Nproc    int               `json:"nproc"`
	CPU      string            `json:"cpu"`
	MemMiB   int               `json:"mem_mib"`
	Kernel   string            `json:"kernel"`
	Go       string            `json:"go"`
	MariaDB  string            `json:"mariadb"`
	Redis    string            `json:"redis"`
	Settings map[string]string `json:"mariadb_settings"`
}

func (m machine) short() string {
	return fmt.Sprintf("nproc %d, %s, %s, MariaDB %s", m.Nproc, m.CPU, m.Go, m.MariaDB)
}

// report is docs/bench-results.json.
type report struct {
	Date      string   `json:"date"`
	Commit    string   `json:"commit"`
	Command   string   `json:"command"`
	Scale     float64  `json:"scale"`
	Residents int      `json:"residents"`
	Villages  int      `json:"villages"`
	Seconds   float64  `json:"total_seconds"`
	Machine   machine  `json:"machine"`
	LoadStart string   `json:"load_at_start"`
	LoadEnd   string   `json:"load_at_end"`
	TopStart  []string `json:"top_processes_at_start"`
	Results   []result `json:"results"`
	Notes     []string `json:"notes,omitempty"`
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// fmtValue prints a measured value with its unit.
func fmtValue(v float64, unit string) string {
	switch unit {
	case "s":
		switch {
		case v >= 10:
			return fmt.Sprintf("%.1f s", v)
		case v >= 1:
			return fmt.Sprintf("%.2f s", v)
		default:
			return fmt.Sprintf("%.1f ms", v*1000)
		}
	}
	return fmt.Sprintf("%s %s", thousands(v), unit)
}

func thousands(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtRuns(s side) string {
	parts := make([]string, len(s.Runs))
	for i, v := range s.Runs {
		parts[i] = fmtValue(v, s.Unit)
	}
	return strings.Join(parts, ", ")
}

func fmtSide(s side) string {
	out := fmt.Sprintf("%s: **%s**", s.What, fmtValue(s.Value, s.Unit))
	if s.P99Ms > 0 {
		out += fmt.Sprintf(", p99 %.2f ms", s.P99Ms)
	}
	if len(s.Runs) > 1 {
		out += " (runs: " + fmtRuns(s) + ")"
	}
	return out
}

const (
	markBegin = "<!-- bench:results:begin (written by make bench) -->"
	markEnd   = "<!-- bench:results:end -->"
)

// markdown renders the results table.
func (rep *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run of %s (%s), `%s`, %d residents in %d villages, %.0f s in all. Load average at the start %s, at the end %s.\n\n",
		rep.Date, rep.Commit, rep.Command, rep.Residents, rep.Villages, rep.Seconds, rep.LoadStart, rep.LoadEnd)
	b.WriteString("| workload | canbao | baseline | ratio | goal | met? | date | machine |\n|---|---|---|---|---|---|---|---|\n")
	for i, r := range rep.Results {
		met := "✅ yes"
		if !r.Met {
			met = "❌ no"
		}
		m := rep.Machine.short()
		if i > 0 {
			m = "same"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | **%s** | %s | %s | %s | %s |\n", r.Workload, fmtSide(r.Canbao), fmtSide(r.Baseline),
			fmtRatio(r.Ratio), r.Goal, met, rep.Date, m)
	}
	b.WriteString("\nNotes of this run:\n\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "- %s: CPU of the machine %.0f%% busy and %.0f%% in I/O wait during the workload; processes outside the benchmark used %.0f%% of the machine's CPU; 1-min load average at each repeat %v\n",
			r.ID, 100*r.CPUBusy, 100*r.IOWait, 100*r.CPUOther, r.Load1)
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s: %s\n", r.Workload, n)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.String()
}

func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return "n/a"
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.3f", r)
}

// write stores bench-results.json and the table inside PERFORMANCE.md (between the markers,
// or appended when they are missing) in dir.
func (rep *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench-results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	page := filepath.Join(dir, "PERFORMANCE.md")
	old, err := os.ReadFile(page)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	block := markBegin + "\n" + rep.markdown() + markEnd
	var out []byte
	i, j := bytes.Index(old, []byte(markBegin)), bytes.Index(old, []byte(markEnd))
	if i >= 0 && j > i {
		out = append(append(append([]byte{}, old[:i]...), block...), old[j+len(markEnd):]...)
	} else {
		out = append(append(old, '\n'), block+"\n"...)
	}
	return os.WriteFile(page, out, 0o644)
}

func today() string { return time.Now().UTC().Format(time.DateOnly) }
