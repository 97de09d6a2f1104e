package policy

import "testing"

func TestCategoryLabels(t *testing.T) {
	want := map[string]string{
		"overview": "概况", "schemes": "险种介绍", "eligibility": "参保对象",
		"registration": "办理流程", "contribution": "缴费与补贴", "land": "被征地农民", "faq": "常见问题",
	}
	if len(Categories) != len(want) {
		t.Errorf("got %d categories, want %d", len(Categories), len(want))
	}
	for k, v := range want {
		if Categories[k] != v {
			t.Errorf("Categories[%q] = %q, want %q", k, Categories[k], v)
		}
	}
}
