package campaigns

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/platform/errs"
)

var tplLimits = Limits{ChannelRates: map[string]int{"sms": 3000, "wechat": 6000}, TemplateIDs: []string{"tpl-ok"}, MaxDuration: 366 * 24 * time.Hour}

// wantBad checks err is an INVALID_INPUT on field with exactly msg ("" = no error).
func wantBad(t *testing.T, what string, err error, field, msg string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	e, ok := errs.As(err)
	if !ok || e.Code != errs.InvalidInput || e.Field != field || e.Message != msg {
		t.Errorf("%s: got %v (%+v)\nwant %s %q", what, err, e, field, msg)
	}
}

// TestTemplateTextLength: 1 to 500 characters, each placeholder counted at its longest
// rendering (name 10, village 10, scheme 12, tier 4, deadline 11).
func TestTemplateTextLength(t *testing.T) {
	const msg = "提醒内容须为 1 至 500 字"
	for _, c := range []struct {
		name, text string
		bad        bool
	}{
		{"500", strings.Repeat("字", 500), false},
		{"501", strings.Repeat("字", 501), true},
		{"1", "字", false},
		{"empty", "", true},
		{"blank", " \t\n", true},
		{"490 + name", strings.Repeat("字", 490) + "{{name}}", false},
		{"491 + name", strings.Repeat("字", 491) + "{{name}}", true},
		{"490 + village", strings.Repeat("字", 490) + "{{ village }}", false},
		{"491 + village", strings.Repeat("字", 491) + "{{village}}", true},
		{"488 + scheme", strings.Repeat("字", 488) + "{{scheme}}", false},
		{"489 + scheme", strings.Repeat("字", 489) + "{{scheme}}", true},
		{"496 + tier", strings.Repeat("字", 496) + "{{tier}}", false},
		{"497 + tier", strings.Repeat("字", 497) + "{{tier}}", true},
		{"489 + deadline", strings.Repeat("字", 489) + "{{deadline}}", false},
		{"490 + deadline", strings.Repeat("字", 490) + "{{deadline}}", true},
		{"all five", strings.Repeat("字", 453) + "{{name}}{{village}}{{scheme}}{{tier}}{{deadline}}", false},
		{"all five + 1", strings.Repeat("字", 454) + "{{name}}{{village}}{{scheme}}{{tier}}{{deadline}}", true},
	} {
		tpl := Template{Text: c.text}
		field := ""
		if c.bad {
			field = "template.text"
		}
		wantBad(t, c.name, tpl.validate([]string{ChannelLog}, tplLimits), field, msg)
	}
	for _, c := range []struct{ text, msg string }{
		{"您好 {{nmae}}", "未知的占位符 {{nmae}}，可用：{{name}} {{village}} {{scheme}} {{tier}} {{deadline}}"},
		{"您好 {{name}", "占位符格式不正确，应为 {{name}} 这样的形式"},
		{"{{Name}}", "占位符格式不正确，应为 {{name}} 这样的形式"},
		{"{{name}} {{", "占位符格式不正确，应为 {{name}} 这样的形式"},
	} {
		tpl := Template{Text: c.text}
		wantBad(t, c.text, tpl.validate([]string{ChannelLog}, tplLimits), "template.text", c.msg)
	}
}

// TestTemplatePartsForTheChain: a chain with wechat or sms needs that part; other parts are
// not looked at.
func TestTemplatePartsForTheChain(t *testing.T) {
	okWeChat := &WeChatPart{TemplateID: "tpl-ok", Data: map[string]string{"thing1": "{{name}}"}}
	okSMS := &SMSPart{SignName: "罗东镇", TemplateCode: "SMS_123456", Params: map[string]string{"name": "{{name}}"}}
	for _, c := range []struct {
		name       string
		chain      []string
		tpl        Template
		field, msg string
	}{
		{"log only", []string{ChannelLog}, Template{Text: "x"}, "", ""},
		{"wechat missing", []string{ChannelSMS, ChannelWeChat}, Template{Text: "x", SMS: okSMS}, "template.wechat", "渠道包含 wechat，请填写订阅消息模板"},
		{"sms missing", []string{ChannelWeChat, ChannelSMS}, Template{Text: "x", WeChat: okWeChat}, "template.sms", "渠道包含 sms，请填写短信签名和模板"},
		{"both", []string{ChannelWeChat, ChannelSMS, ChannelLog}, Template{Text: "x", WeChat: okWeChat, SMS: okSMS}, "", ""},
		{"parts not in the chain are not checked", []string{ChannelVisitTask},
			Template{Text: "x", WeChat: &WeChatPart{}, SMS: &SMSPart{}}, "", ""},
		{"bad wechat", []string{ChannelWeChat}, Template{Text: "x", WeChat: &WeChatPart{TemplateID: "nope", Data: okWeChat.Data}},
			"template.wechat.template_id", "该订阅消息模板未获批准"},
		{"bad sign", []string{ChannelSMS}, Template{Text: "x", SMS: &SMSPart{SignName: "罗", TemplateCode: "SMS_123456"}},
			"template.sms", "短信模板不正确：短信签名须为 2 至 12 个字，现为 1 个"},
		{"unknown placeholder in a parameter", []string{ChannelSMS},
			Template{Text: "x", SMS: &SMSPart{SignName: "罗东镇", TemplateCode: "SMS_123456", Params: map[string]string{"who": "{{nmae}}"}}},
			"template.sms.params.who", "未知的占位符 {{nmae}}，可用：{{name}} {{village}} {{scheme}} {{tier}} {{deadline}}"},
		{"bad text first", []string{ChannelWeChat}, Template{Text: ""}, "template.text", "提醒内容须为 1 至 500 字"},
	} {
		wantBad(t, c.name, c.tpl.validate(c.chain, tplLimits), c.field, c.msg)
	}
}

// wechatLimits is WeChat's subscribeMessage.send table of keyword types and their maximum
// lengths in characters, written out here from WeChat's documentation.
var wechatLimits = map[string]int{
	"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "time": 32,
	"date": 32, "amount": 32, "phone_number": 17, "car_number": 8, "name": 10, "phrase": 5,
}

// TestWeChatKeywordLengths: each keyword type at exactly its limit passes, one more fails
// with the type and the limit in the message; empty fails too.
func TestWeChatKeywordLengths(t *testing.T) {
	if !maps.Equal(wechatKinds, wechatLimits) {
		t.Errorf("wechatKinds = %v\nWeChat's table %v", wechatKinds, wechatLimits)
	}
	for kind, limit := range wechatLimits {
		key := kind + "7"
		msg := fmt.Sprintf("%s 类型的内容须为 1 至 %d 个字符（占位符按最长计算）", kind, limit)
		for n, ok := range map[int]bool{limit: true, limit + 1: false, 1: true, 0: false} {
			w := WeChatPart{TemplateID: "tpl-ok", Data: map[string]string{key: strings.Repeat("9", n)}}
			field, m := "", ""
			if !ok {
				field, m = "template.wechat.data."+key, msg
			}
			wantBad(t, fmt.Sprintf("%s, %d characters", key, n), w.validate(tplLimits), field, m)
		}
	}
	// Placeholders count at their longest: thing is 20, {{name}}{{village}} is 10+10.
	for text, ok := range map[string]bool{
		"{{name}}{{village}}": true, "{{name}}{{village}}啊": false, "{{scheme}}{{name}}": false,
		"{{tier}}{{deadline}}啊啊啊啊啊": true, "{{tier}}{{deadline}}啊啊啊啊啊啊": false,
	} {
		w := WeChatPart{TemplateID: "tpl-ok", Data: map[string]string{"thing1": text}}
		field, m := "", ""
		if !ok {
			field, m = "template.wechat.data.thing1", "thing 类型的内容须为 1 至 20 个字符（占位符按最长计算）"
		}
		wantBad(t, text, w.validate(tplLimits), field, m)
	}
}

// TestWeChatKeywords: names, types and what each type may hold.
func TestWeChatKeywords(t *testing.T) {
	for _, c := range []struct {
		name       string
		data       map[string]string
		field, msg string
	}{
		{"number digits", map[string]string{"number1": "100.5元"}, "", ""},
		{"number tier", map[string]string{"number1": "{{tier}}元"}, "", ""},
		{"amount tier", map[string]string{"amount2": "{{tier}}"}, "", ""},
		{"number letters", map[string]string{"number1": "一百"}, "template.wechat.data.number1", "number 类型只能填数字或 {{tier}}"},
		{"amount name", map[string]string{"amount3": "{{name}}"}, "template.wechat.data.amount3", "amount 类型只能填数字或 {{tier}}"},
		{"number two tiers", map[string]string{"number1": "{{tier}}{{tier}}"}, "template.wechat.data.number1", "number 类型只能填数字或 {{tier}}"},
		{"date deadline", map[string]string{"date4": "{{deadline}}前"}, "", ""},
		{"time deadline", map[string]string{"time5": "{{deadline}}"}, "", ""},
		{"date plain", map[string]string{"date4": "2019年12月31日"}, "", ""},
		{"date name", map[string]string{"date4": "{{name}}"}, "template.wechat.data.date4", "date 类型只能填日期或 {{deadline}}"},
		{"time tier", map[string]string{"time5": "{{tier}}"}, "template.wechat.data.time5", "time 类型只能填日期或 {{deadline}}"},
		{"letter plain", map[string]string{"letter6": "abc"}, "", ""},
		{"letter placeholder", map[string]string{"letter6": "{{tier}}"}, "template.wechat.data.letter6", "letter 类型不能使用占位符"},
		{"character_string placeholder", map[string]string{"character_string8": "{{tier}}"}, "template.wechat.data.character_string8", "character_string 类型不能使用占位符"},
		{"phone_number placeholder", map[string]string{"phone_number9": "{{tier}}"}, "template.wechat.data.phone_number9", "phone_number 类型不能使用占位符"},
		{"car_number placeholder", map[string]string{"car_number1": "{{tier}}"}, "template.wechat.data.car_number1", "car_number 类型不能使用占位符"},
		{"thing placeholders", map[string]string{"thing1": "{{name}}"}, "", ""},
		{"name placeholder", map[string]string{"name1": "{{name}}"}, "", ""},
		{"no digits", map[string]string{"thing": "x"}, "template.wechat.data.thing", "关键词名称应形如 thing1、time2"},
		{"upper case", map[string]string{"Thing1": "x"}, "template.wechat.data.Thing1", "关键词名称应形如 thing1、time2"},
		{"unknown type", map[string]string{"color1": "x"}, "template.wechat.data.color1", "未知的关键词类型 color"},
		{"bad placeholder", map[string]string{"thing1": "{{nmae}}"}, "template.wechat.data.thing1",
			"未知的占位符 {{nmae}}，可用：{{name}} {{village}} {{scheme}} {{tier}} {{deadline}}"},
		{"first bad key in name order", map[string]string{"thing2": "", "thing1": "", "amount1": "x"}, "template.wechat.data.amount1", "amount 类型只能填数字或 {{tier}}"},
		{"no keywords", map[string]string{}, "template.wechat.data", "请填写 1 至 10 个模板关键词"},
		{"nil keywords", nil, "template.wechat.data", "请填写 1 至 10 个模板关键词"},
		{"10 keywords", keywords(10), "", ""},
		{"11 keywords", keywords(11), "template.wechat.data", "请填写 1 至 10 个模板关键词"},
	} {
		w := WeChatPart{TemplateID: "tpl-ok", Data: c.data}
		wantBad(t, c.name, w.validate(tplLimits), c.field, c.msg)
	}
	for _, c := range []struct {
		name, id, page string
		field, msg     string
	}{
		{"page 256", "tpl-ok", strings.Repeat("p", 256), "", ""},
		{"page 257", "tpl-ok", strings.Repeat("p", 257), "template.wechat.page", "页面路径过长"},
		{"page 256 bytes of Chinese", "tpl-ok", strings.Repeat("页", 85) + "p", "", ""},
		{"page 258 bytes of Chinese", "tpl-ok", strings.Repeat("页", 86), "template.wechat.page", "页面路径过长"},
		{"unapproved", "tpl-other", "", "template.wechat.template_id", "该订阅消息模板未获批准"},
		{"empty id", "", "", "template.wechat.template_id", "该订阅消息模板未获批准"},
	} {
		w := WeChatPart{TemplateID: c.id, Page: c.page, Data: map[string]string{"thing1": "x"}}
		wantBad(t, c.name, w.validate(tplLimits), c.field, c.msg)
	}
}

func keywords(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("thing%d", i+1)] = "x"
	}
	return m
}

func TestRender(t *testing.T) {
	v := Vars{Name: "张三", Village: "振兴村", Scheme: "城乡居民养老保险", Tier: "200", Deadline: "2019-12-31"}
	for in, want := range map[string]string{
		"{{name}}您好，{{ village }}提醒：{{scheme}} {{tier}}元，{{deadline}}前": "张三您好，振兴村提醒：城乡居民养老保险 200元，2019-12-31前",
		"{{foo}}{{name}}": "{{foo}}张三",
		"{{name":          "{{name",
		"没有占位符":           "没有占位符",
	} {
		if got := Render(in, v); got != want {
			t.Errorf("Render(%q) = %q, want %q", in, got, want)
		}
	}
	w := WeChatPart{Data: map[string]string{"thing1": "{{name}}", "date2": "{{deadline}}"}}
	if got := w.Render(v); !maps.Equal(got, map[string]string{"thing1": "张三", "date2": "2019-12-31"}) {
		t.Errorf("WeChat Render = %v", got)
	}
	s := SMSPart{Params: map[string]string{"who": "{{name}}", "tier": "{{tier}}元"}}
	if got := s.Render(v); !maps.Equal(got, map[string]string{"who": "张三", "tier": "200元"}) {
		t.Errorf("SMS Render = %v", got)
	}
}
