package campaigns

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/platform/errs"
)

// Statuses of a campaign and the transitions staff may make.
const (
	StatusDraft     = "draft"
	StatusScheduled = "scheduled"
	StatusRunning   = "running"
	StatusPaused    = "paused"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// Statuses of a delivery in the outbox. The counters, which campaigns imports, key their
// counts by them and name them first.
const (
	DeliveryQueued  = counters.Queued
	DeliverySending = counters.Sending
	DeliverySent    = counters.Sent
	DeliveryFailed  = counters.Failed
	DeliveryUnknown = counters.Unknown
	DeliverySkipped = counters.Skipped
)

// Statuses of a campaign run.
const (
	RunSnapshotting = "snapshotting"
	RunDispatching  = "dispatching"
	RunCompleted    = "completed"
	RunCancelled    = "cancelled"
)

// Transition is a staff action on a campaign.
type Transition string

// The transitions.
const (
	Schedule Transition = "schedule"
	Pause    Transition = "pause"
	Resume   Transition = "resume"
	Cancel   Transition = "cancel"
)

// transitions: from status → action → to status. Anything else is 409.
var transitions = map[string]map[Transition]string{
	StatusDraft:     {Schedule: StatusScheduled, Cancel: StatusCancelled},
	StatusScheduled: {Pause: StatusPaused, Cancel: StatusCancelled},
	StatusRunning:   {Pause: StatusPaused, Cancel: StatusCancelled},
	StatusPaused:    {Resume: StatusScheduled, Cancel: StatusCancelled},
}

// Next returns the status after t, or false when the transition is illegal.
func Next(from string, t Transition) (string, bool) {
	to, ok := transitions[from][t]
	return to, ok
}

// Channels of the fallback chain.
const (
	ChannelWeChat    = "wechat"
	ChannelSMS       = "sms"
	ChannelVisitTask = "visit_task"
	ChannelLog       = "log"
)

var channelSet = []string{ChannelWeChat, ChannelSMS, ChannelVisitTask, ChannelLog}

// Segment selects people of the roster; every given criterion must hold.
type Segment struct {
	Villages         []string `json:"villages,omitempty"`
	Gender           string   `json:"gender,omitempty"`
	AgeMin           *int     `json:"age_min,omitempty"`
	AgeMax           *int     `json:"age_max,omitempty"`
	Statuses         []string `json:"statuses,omitempty"`
	Employed         *bool    `json:"employed,omitempty"`
	LandExpropriated *bool    `json:"land_expropriated,omitempty"`
	VisitOutcomes    []string `json:"visit_outcomes,omitempty"`
	Reasons          []string `json:"reasons,omitempty"`
	NotContactedDays *int     `json:"not_contacted_days,omitempty"`
}

// WeChatPart is the subscribe-message part of a template.
type WeChatPart struct {
	TemplateID string            `json:"template_id"`
	Page       string            `json:"page,omitempty"`
	Data       map[string]string `json:"data"`
}

// SMSPart is the SMS part of a template.
type SMSPart struct {
	SignName     string            `json:"sign_name"`
	TemplateCode string            `json:"template_code"`
	Params       map[string]string `json:"params,omitempty"`
}

// Template is the message, with one part per channel of the chain.
type Template struct {
	Text   string      `json:"text"`
	WeChat *WeChatPart `json:"wechat,omitempty"`
	SMS    *SMSPart    `json:"sms,omitempty"`
}

// Window is the daily send window, "HH:MM" in Asia/Shanghai.
type Window struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ScheduleSpec says when runs start and when messages may go out.
type ScheduleSpec struct {
	StartAt         time.Time  `json:"start_at"`
	EndAt           *time.Time `json:"end_at"`
	Window          Window     `json:"window"`
	RepeatEveryDays *int       `json:"repeat_every_days"`
}

// FrequencyCap bounds messages per resident across all campaigns.
type FrequencyCap struct {
	Max     int `json:"max"`
	PerDays int `json:"per_days"`
}

// Spec is a campaign as staff write it.
type Spec struct {
	Name     string       `json:"name"`
	Segment  Segment      `json:"segment"`
	Channels []string     `json:"channels"`
	Template Template     `json:"template"`
	Schedule ScheduleSpec `json:"schedule"`
	// RatePerMinute, when set, is the campaign's own limit, at most its channels'; 0: as fast
	// as its channels allow.
	RatePerMinute int           `json:"rate_per_minute,omitempty"`
	FrequencyCap  *FrequencyCap `json:"frequency_cap"`
}

// Limits are the configured bounds a spec is checked against.
type Limits struct {
	// ChannelRates are the channels' send limits per minute (sms, wechat); a channel absent or
	// at 0 (log, visit_task) is not throttled.
	ChannelRates map[string]int
	TemplateIDs  []string // approved WeChat templates
	MaxDuration  time.Duration
}

// channelNames are the channels as staff read them.
var channelNames = map[string]string{ChannelWeChat: "微信订阅消息", ChannelSMS: "短信", ChannelVisitTask: "入户走访任务", ChannelLog: "日志"}

// ChannelLimit is the lowest send limit among channels, and the channel that has it; 0 when
// none of them is throttled.
func ChannelLimit(rates map[string]int, chain []string) (perMinute int, channel string) {
	for _, c := range chain {
		if r := rates[c]; r > 0 && (perMinute == 0 || r < perMinute) {
			perMinute, channel = r, c
		}
	}
	return perMinute, channel
}

func bad(field, msg string) error { return errs.Field(errs.InvalidInput, field, msg) }

// Validate checks a spec and fills its defaults. now bounds the schedule.
func (s *Spec) Validate(l Limits, now time.Time) error {
	s.Name = strings.TrimSpace(s.Name)
	if n := utf8.RuneCountInString(s.Name); n < 1 || n > 100 {
		return bad("name", "活动名称须为 1 至 100 个字")
	}
	if err := s.Segment.validate(); err != nil {
		return err
	}
	if len(s.Channels) == 0 || len(s.Channels) > 4 {
		return bad("channels", "请选择 1 至 4 个发送渠道")
	}
	seen := map[string]bool{}
	for i, c := range s.Channels {
		if !slices.Contains(channelSet, c) {
			return bad(fmt.Sprintf("channels[%d]", i), "渠道须为 wechat、sms、visit_task 或 log")
		}
		if seen[c] {
			return bad(fmt.Sprintf("channels[%d]", i), "渠道不能重复")
		}
		seen[c] = true
	}
	if err := s.Template.validate(s.Channels, l); err != nil {
		return err
	}
	if err := s.Schedule.validate(l, now); err != nil {
		return err
	}
	if s.RatePerMinute < 0 {
		return bad("rate_per_minute", "每分钟发送上限须为正整数；不填则按渠道允许的最快速度发送")
	}
	if lim, ch := ChannelLimit(l.ChannelRates, s.Channels); s.RatePerMinute > 0 && lim > 0 && s.RatePerMinute > lim {
		return bad("rate_per_minute", fmt.Sprintf("每分钟发送上限不能超过%s渠道（%s）的上限：每分钟 %d 条", channelNames[ch], ch, lim))
	}
	if c := s.FrequencyCap; c != nil && (c.Max < 1 || c.Max > 100 || c.PerDays < 1 || c.PerDays > 365) {
		return bad("frequency_cap", "频次上限须为每 1 至 365 天不超过 1 至 100 条")
	}
	return nil
}

var (
	statuses = []string{"unenrolled", "resident_pension", "employee_pension", "exempt"}
	outcomes = []string{"enrolled", "agreed", "considering", "refused", "not_home", "moved_away", "insured_elsewhere", "deceased"}
	reasons  = []string{"unwilling", "unable", "inconvenient", "cannot_afford"}
)

func (g *Segment) validate() error {
	if len(g.Villages) > 1000 {
		return bad("segment.villages", "村（居）过多")
	}
	for _, v := range g.Villages {
		if v == "" || len(v) > 32 {
			return bad("segment.villages", "村（居）代码不正确")
		}
	}
	if g.Gender != "" && g.Gender != "male" && g.Gender != "female" {
		return bad("segment.gender", "性别须为 male 或 female")
	}
	for _, a := range []*int{g.AgeMin, g.AgeMax} {
		if a != nil && (*a < 0 || *a > 150) {
			return bad("segment.age_min", "年龄须为 0 至 150")
		}
	}
	if g.AgeMin != nil && g.AgeMax != nil && *g.AgeMin > *g.AgeMax {
		return bad("segment.age_min", "最小年龄不能大于最大年龄")
	}
	for field, list := range map[string][2][]string{
		"segment.statuses": {g.Statuses, statuses}, "segment.visit_outcomes": {g.VisitOutcomes, outcomes}, "segment.reasons": {g.Reasons, reasons},
	} {
		for _, v := range list[0] {
			if !slices.Contains(list[1], v) {
				return bad(field, "取值不正确："+v)
			}
		}
	}
	if d := g.NotContactedDays; d != nil && (*d < 1 || *d > 365) {
		return bad("segment.not_contacted_days", "须为 1 至 365 天")
	}
	return nil
}

// ParseClock reads "HH:MM" as minutes after midnight.
func ParseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (sc *ScheduleSpec) validate(l Limits, now time.Time) error {
	if sc.StartAt.IsZero() {
		return bad("schedule.start_at", "请填写开始时间")
	}
	if sc.StartAt.Before(now.Add(-24 * time.Hour)) {
		return bad("schedule.start_at", "开始时间不能早于一天前")
	}
	end := sc.StartAt.Add(l.MaxDuration)
	if sc.EndAt != nil {
		if !sc.EndAt.After(sc.StartAt) || sc.EndAt.Sub(sc.StartAt) > l.MaxDuration {
			return bad("schedule.end_at", "结束时间须晚于开始时间，且活动不超过一年")
		}
		end = *sc.EndAt
	}
	sc.EndAt = &end
	from, ok1 := ParseClock(sc.Window.From)
	to, ok2 := ParseClock(sc.Window.To)
	if !ok1 || !ok2 || from >= to {
		return bad("schedule.window", "发送时段格式应为 HH:MM，且开始早于结束")
	}
	if r := sc.RepeatEveryDays; r != nil && (*r < 1 || *r > 365) {
		return bad("schedule.repeat_every_days", "重复间隔须为 1 至 365 天")
	}
	return nil
}
