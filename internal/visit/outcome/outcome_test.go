package outcome

import (
	"os"
	"regexp"
	"testing"
)

// TestLabelsCoverEveryCodeAndMatchTheConsole: every outcome and reason has a Chinese label and
// a place in the report order, and the labels are the console's (web/src/lib/labels.ts), so
// the reasons analysis and the console never name one code two ways.
func TestLabelsCoverEveryCodeAndMatchTheConsole(t *testing.T) {
	check := func(kind string, codes map[string]bool, order []string, labels map[string]string) {
		if len(order) != len(codes) || len(labels) != len(codes) {
			t.Errorf("%s: %d codes, %d in order, %d labels", kind, len(codes), len(order), len(labels))
		}
		for _, c := range order {
			if !codes[c] || labels[c] == "" {
				t.Errorf("%s %q: code known %v, label %q", kind, c, codes[c], labels[c])
			}
		}
	}
	check("outcome", Outcomes, OutcomeOrder, OutcomeLabels)
	check("reason", Reasons, ReasonOrder, ReasonLabels)

	src, err := os.ReadFile("../../../web/src/lib/labels.ts")
	if err != nil {
		t.Fatal(err)
	}
	block := func(name string) map[string]string {
		m := regexp.MustCompile(`(?s)export const ` + name + `[^{]*= \{(.*?)\n\}`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("labels.ts has no %s", name)
		}
		out := map[string]string{}
		for _, kv := range regexp.MustCompile(`(\w+): '([^']*)'`).FindAllSubmatch(m[1], -1) {
			out[string(kv[1])] = string(kv[2])
		}
		return out
	}
	for name, labels := range map[string]map[string]string{"outcomeLabel": OutcomeLabels, "reasonLabel": ReasonLabels} {
		console := block(name)
		if len(console) != len(labels) {
			t.Errorf("%s: console has %d labels, Go %d", name, len(console), len(labels))
		}
		for c, l := range labels {
			if console[c] != l {
				t.Errorf("%s %q: console %q, Go %q", name, c, console[c], l)
			}
		}
	}
	if StaysOut(Agreed) || StaysOut(NotHome) || !StaysOut(Refused) || !StaysOut(Considering) {
		t.Error("StaysOut: refused and considering only")
	}
}
