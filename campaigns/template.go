package campaigns

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/canbao/canbao/campaigns/channels/sms"
)

// Vars are the values a template's placeholders take for one resident.
type Vars struct {
	Name, Village, Scheme, Tier, Deadline string
}

// placeholderWidth is the longest value each placeholder renders to, for length checks at
// save time.
var placeholderWidth = map[string]int{"name": 10, "village": 10, "scheme": 12, "tier": 4, "deadline": 11}

var placeholder = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)

// Render fills a template string. Unknown placeholders were refused when the campaign was saved.
func Render(s string, v Vars) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		switch strings.TrimSpace(m[2 : len(m)-2]) {
		case "name":
			return v.Name
		case "village":
			return v.Village
		case "scheme":
			return v.Scheme
		case "tier":
			return v.Tier
		case "deadline":
			return v.Deadline
		}
		return m
	})
}

// width is the longest rendered length of s, or an error naming an unknown placeholder.
func width(s string) (int, []string, error) {
	n := utf8.RuneCountInString(s)
	var used []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		w, ok := placeholderWidth[m[1]]
		if !ok {
			return 0, nil, fmt.Errorf("未知的占位符 {{%s}}，可用：{{name}} {{village}} {{scheme}} {{tier}} {{deadline}}", m[1])
		}
		n += w - utf8.RuneCountInString(m[0])
		used = append(used, m[1])
	}
	if strings.Contains(placeholder.ReplaceAllString(s, ""), "{{") {
		return 0, nil, fmt.Errorf("占位符格式不正确，应为 {{name}} 这样的形式")
	}
	return n, used, nil
}

// WeChat subscribe-message keyword types and their limits (characters), from WeChat's
// documentation of subscribeMessage.send.
var wechatKinds = map[string]int{
	"thing": 20, "number": 32, "letter": 32, "symbol": 5, "character_string": 32, "time": 32, "date": 32,
	"amount": 32, "phone_number": 17, "car_number": 8, "name": 10, "phrase": 5,
}

var wechatKey = regexp.MustCompile(`^([a-z_]+?)(\d+)$`)

func (t *Template) validate(chain []string, l Limits) error {
	n, _, err := width(t.Text)
	if err != nil {
		return bad("template.text", err.Error())
	}
	if strings.TrimSpace(t.Text) == "" || n > 500 {
		return bad("template.text", "提醒内容须为 1 至 500 字")
	}
	if slices.Contains(chain, ChannelWeChat) {
		if t.WeChat == nil {
			return bad("template.wechat", "渠道包含 wechat，请填写订阅消息模板")
		}
		if err := t.WeChat.validate(l); err != nil {
			return err
		}
	}
	if slices.Contains(chain, ChannelSMS) {
		if t.SMS == nil {
			return bad("template.sms", "渠道包含 sms，请填写短信签名和模板")
		}
		if err := sms.ValidateTemplate(t.SMS.SignName, t.SMS.TemplateCode, t.SMS.Params); err != nil {
			return bad("template.sms", "短信模板不正确："+err.Error())
		}
		for k, v := range t.SMS.Params {
			if _, _, err := width(v); err != nil {
				return bad("template.sms.params."+k, err.Error())
			}
		}
	}
	return nil
}

func (w *WeChatPart) validate(l Limits) error {
	if !slices.Contains(l.TemplateIDs, w.TemplateID) {
		return bad("template.wechat.template_id", "该订阅消息模板未获批准")
	}
	if len(w.Page) > 256 {
		return bad("template.wechat.page", "页面路径过长")
	}
	if len(w.Data) == 0 || len(w.Data) > 10 {
		return bad("template.wechat.data", "请填写 1 至 10 个模板关键词")
	}
	keys := make([]string, 0, len(w.Data))
	for k := range w.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := w.Data[k]
		field := "template.wechat.data." + k
		m := wechatKey.FindStringSubmatch(k)
		if m == nil {
			return bad(field, "关键词名称应形如 thing1、time2")
		}
		limit, ok := wechatKinds[m[1]]
		if !ok {
			return bad(field, "未知的关键词类型 "+m[1])
		}
		n, used, err := width(v)
		if err != nil {
			return bad(field, err.Error())
		}
		if n == 0 || n > limit {
			return bad(field, fmt.Sprintf("%s 类型的内容须为 1 至 %d 个字符（占位符按最长计算）", m[1], limit))
		}
		switch m[1] {
		case "number", "amount":
			if s := placeholder.ReplaceAllString(v, ""); strings.Trim(s, "0123456789.元") != "" || (len(used) > 0 && !slices.Equal(used, []string{"tier"})) {
				return bad(field, m[1]+" 类型只能填数字或 {{tier}}")
			}
		case "date", "time":
			if len(used) > 0 && !slices.Equal(used, []string{"deadline"}) {
				return bad(field, m[1]+" 类型只能填日期或 {{deadline}}")
			}
		case "phrase", "symbol", "letter", "car_number", "phone_number", "character_string":
			if len(used) > 0 {
				return bad(field, m[1]+" 类型不能使用占位符")
			}
		}
	}
	return nil
}

// Render renders a WeChat part's data for one resident.
func (w *WeChatPart) Render(v Vars) map[string]string {
	out := make(map[string]string, len(w.Data))
	for k, t := range w.Data {
		out[k] = Render(t, v)
	}
	return out
}

// Render renders an SMS part's parameters for one resident.
func (s *SMSPart) Render(v Vars) map[string]string {
	out := make(map[string]string, len(s.Params))
	for k, t := range s.Params {
		out[k] = Render(t, v)
	}
	return out
}
