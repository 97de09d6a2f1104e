package sms

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidateTemplate(t *testing.T) {
	ok := map[string]string{"name": "{{name}}", "village": "{{village}}", "deadline": "{{deadline}}"}
	eleven := map[string]string{}
	for i := range 11 {
		eleven[fmt.Sprintf("p%d", i)] = "x"
	}
	ten := map[string]string{}
	for i := range 10 {
		ten[fmt.Sprintf("p%d", i)] = "x"
	}
	cases := []struct {
		name         string
		sign, code   string
		params       map[string]string
		field, param string // "" when valid
		mention      string // the error text must contain this
	}{
		{"valid", "罗东镇劳保所", "SMS_123456789", ok, "", "", ""},
		{"valid no params", "罗东镇劳保所", "SMS_123456", nil, "", "", ""},
		{"valid ascii sign", "CanBao2", "SMS_123456789012", nil, "", "", ""},
		{"valid ten params", "劳保", "SMS_123456", ten, "", "", ""},
		{"valid 35 chars", "劳保所", "SMS_123456", map[string]string{"a": strings.Repeat("字", 35)}, "", "", ""},
		{"valid placeholders at limit", "劳保所", "SMS_123456", map[string]string{"a": "{{name}}{{village}}{{scheme}}" + strings.Repeat("字", 5)}, "", "", ""},
		{"sign too short", "所", "SMS_123456", nil, "sign_name", "", "2 至 12"},
		{"sign too long", "罗东镇人力资源和社会保障所", "SMS_123456", nil, "sign_name", "", "2 至 12"},
		{"sign with punctuation", "罗东镇-劳保所", "SMS_123456", nil, "sign_name", "", "'-'"},
		{"sign with brackets", "【罗东镇】", "SMS_123456", nil, "sign_name", "", "汉字"},
		{"sign with space", "罗东 劳保", "SMS_123456", nil, "sign_name", "", "汉字"},
		{"code lower case", "劳保所", "sms_123456", nil, "template_code", "", "SMS_"},
		{"code too few digits", "劳保所", "SMS_12345", nil, "template_code", "", "SMS_"},
		{"code too many digits", "劳保所", "SMS_1234567890123", nil, "template_code", "", "SMS_"},
		{"code with letters", "劳保所", "SMS_12345a", nil, "template_code", "", "SMS_"},
		{"code full-width digits", "劳保所", "SMS_１２３４５６", nil, "template_code", "", "SMS_"},
		{"eleven params", "劳保所", "SMS_123456", eleven, "params", "", "最多 10"},
		{"param name digit first", "劳保所", "SMS_123456", map[string]string{"1name": "x"}, "param", "1name", "1name"},
		{"param name hyphen", "劳保所", "SMS_123456", map[string]string{"full-name": "x"}, "param", "full-name", "full-name"},
		{"param name too long", "劳保所", "SMS_123456", map[string]string{"a23456789012345678901": "x"}, "param", "a23456789012345678901", "a23456789012345678901"},
		{"param empty", "劳保所", "SMS_123456", map[string]string{"name": " "}, "param", "name", "不能为空"},
		{"param brackets", "劳保所", "SMS_123456", map[string]string{"name": "【官方】{{name}}"}, "param", "name", "【】"},
		{"param 36 chars", "劳保所", "SMS_123456", map[string]string{"note": strings.Repeat("字", 36)}, "param", "note", "36"},
		{"param placeholders over", "劳保所", "SMS_123456", map[string]string{"ok": "x", "who": "{{name}}{{village}}{{scheme}}" + strings.Repeat("字", 6)}, "param", "who", "36"},
		{"param spaced placeholder counts 10", "劳保所", "SMS_123456", map[string]string{"who": "{{ name }}{{ village }}{{scheme}}{{tier}}"}, "param", "who", "40"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateTemplate(tc.sign, tc.code, tc.params)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("want *TemplateError, got %T %v", err, err)
			}
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Error("errors.Is(err, ErrInvalidTemplate) is false")
			}
			if te.Field != tc.field || te.Param != tc.param {
				t.Errorf("field %q param %q, want %q %q (%v)", te.Field, te.Param, tc.field, tc.param, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
}

func TestValidateTemplateDeterministic(t *testing.T) {
	p := map[string]string{"b": strings.Repeat("x", 40), "a": strings.Repeat("y", 40), "c": strings.Repeat("z", 40)}
	for range 20 {
		var te *TemplateError
		if err := ValidateTemplate("劳保所", "SMS_123456", p); !errors.As(err, &te) || te.Param != "a" {
			t.Fatalf("want the first parameter in name order, got %v", err)
		}
	}
}

func TestStopLine(t *testing.T) {
	if StopLine != "拒收请回复R" {
		t.Fatalf("StopLine = %q", StopLine)
	}
	if !HasStopLine("【罗东镇劳保所】${name}您好，请于${deadline}前参保。拒收请回复R") {
		t.Error("text ending with the stop line")
	}
	if !HasStopLine("请参保。\n拒收 请回复 R") {
		t.Error("white space is ignored")
	}
	if HasStopLine("请参保。退订回T") {
		t.Error("another opt-out line is not StopLine")
	}
}
