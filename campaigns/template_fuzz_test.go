package campaigns

import (
	"strings"
	"testing"
	"time"
)

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{name}}您好", "{{ village }}{{scheme}}", "{{unknown}}", "{{", "}}{{name", "截止{{deadline}}", "{{tier}}元"} {
		f.Add(s, "张三", "振兴村")
	}
	lim := Limits{ChannelRates: map[string]int{"sms": 3000, "wechat": 6000}, TemplateIDs: []string{"t1"}, MaxDuration: 366 * 24 * time.Hour}
	f.Fuzz(func(t *testing.T, text, name, village string) {
		v := Vars{Name: name, Village: village, Scheme: "城乡居民养老保险", Tier: "100", Deadline: "2019-12-31"}
		out := Render(text, v)
		if !strings.Contains(text, "{{") && out != text {
			t.Fatalf("text without placeholders changed: %q -> %q", text, out)
		}
		w := WeChatPart{TemplateID: "t1", Data: map[string]string{"thing1": text, "time2": text, "number3": text}}
		if err := w.validate(lim); err == nil {
			// A template that passed validation renders within WeChat's limits for short values.
			short := Vars{Name: "王", Village: "村", Scheme: "养老", Tier: "100", Deadline: "2019-12-31"}
			if n := len([]rune(w.Render(short)["thing1"])); n > 20 {
				t.Fatalf("validated thing1 renders to %d characters", n)
			}
		}
		tpl := Template{Text: text}
		_ = tpl.validate([]string{ChannelLog}, lim)
	})
}
