package visit

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/errs"
)

// These tests need no database: check and DecodeBody are pure, and Record refuses a bad
// batch before it opens a transaction.

const uuidA = "6f1c1f52-6f8e-4a4e-9d39-2f2b4d1f1e11"

func pureService(t *testing.T, now time.Time) *Service {
	t.Helper()
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	return &Service{loc: sh, now: func() time.Time { return now }}
}

func sp(s string) *string { return &s }

func wantField(t *testing.T, what string, err error, code errs.Code, field, msg string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != code || e.Field != field || e.Message != msg {
		t.Errorf("%s: got %v (%+v)\nwant %s %s %q", what, err, e, code, field, msg)
	}
}

// TestCheckRefusesEachFieldWithItsMessage: one bad field at a time, each boundary just inside
// (accepted) and just outside (refused on that field with its message), single and in a batch.
func TestCheckRefusesEachFieldWithItsMessage(t *testing.T) {
	now := time.Date(2026, 6, 15, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	s := pureService(t, now)
	ok := Input{ClientID: uuidA, ResidentID: 7, VisitedAt: "2026-06-15T09:30:00+08:00", Outcome: "considering"}
	const (
		msgClient   = "client_id 须为 UUID"
		msgResident = "请指定走访对象"
		msgAtFormat = "走访时间格式应为 RFC 3339，如 2019-08-01T10:00:00+08:00"
		msgAtRange  = "走访时间不能晚于现在，也不能早于一年前"
		msgOutcome  = "走访结果不正确"
		msgReasonTo = "只有“拒绝”或“考虑中”的走访需要填写未参保原因"
		msgReason   = "未参保原因须为：不愿参保、不能参保、不便参保、缴不起费"
		msgNote     = "备注不超过 500 字，且不能包含控制字符"
		msgFollow   = "回访日期须在走访当天之后一年内"
		msgDate     = "日期格式应为 YYYY-MM-DD"
	)
	for _, c := range []struct {
		name       string
		edit       func(*Input)
		field, msg string // "" = accepted
	}{
		{"valid", func(*Input) {}, "", ""},
		{"upper-case uuid", func(in *Input) { in.ClientID = strings.ToUpper(uuidA) }, "", ""},
		{"uuid without hyphens", func(in *Input) { in.ClientID = strings.ReplaceAll(uuidA, "-", "") }, "client_id", msgClient},
		{"uuid in braces", func(in *Input) { in.ClientID = "{" + uuidA + "}" }, "client_id", msgClient},
		{"urn uuid", func(in *Input) { in.ClientID = "urn:uuid:" + uuidA }, "client_id", msgClient},
		{"not a uuid", func(in *Input) { in.ClientID = "visit-1" }, "client_id", msgClient},
		{"36 characters, not a uuid", func(in *Input) { in.ClientID = strings.Repeat("z", 36) }, "client_id", msgClient},
		{"empty client id", func(in *Input) { in.ClientID = "" }, "client_id", msgClient},
		{"resident 1", func(in *Input) { in.ResidentID = 1 }, "", ""},
		{"resident 0", func(in *Input) { in.ResidentID = 0 }, "resident_id", msgResident},
		{"resident -1", func(in *Input) { in.ResidentID = -1 }, "resident_id", msgResident},
		{"visited_at not RFC 3339", func(in *Input) { in.VisitedAt = "2026-06-15 09:30" }, "visited_at", msgAtFormat},
		{"visited_at empty", func(in *Input) { in.VisitedAt = "" }, "visited_at", msgAtFormat},
		{"10 minutes ahead", func(in *Input) { in.VisitedAt = "2026-06-15T10:10:00+08:00" }, "", ""},
		{"10 minutes and a second ahead", func(in *Input) { in.VisitedAt = "2026-06-15T10:10:01+08:00" }, "visited_at", msgAtRange},
		{"10 minutes and a nanosecond ahead", func(in *Input) { in.VisitedAt = "2026-06-15T02:10:00.000000001Z" }, "visited_at", msgAtRange},
		{"a year ago", func(in *Input) { in.VisitedAt = "2025-06-15T10:00:00+08:00" }, "", ""},
		{"a year and a second ago", func(in *Input) { in.VisitedAt = "2025-06-15T09:59:59+08:00" }, "visited_at", msgAtRange},
		{"unknown outcome", func(in *Input) { in.Outcome = "maybe" }, "outcome", msgOutcome},
		{"empty outcome", func(in *Input) { in.Outcome = "" }, "outcome", msgOutcome},
		{"refused with a reason", func(in *Input) { in.Outcome, in.Reason = "refused", sp("cannot_afford") }, "", ""},
		{"considering with a reason", func(in *Input) { in.Reason = sp("unwilling") }, "", ""},
		{"agreed with a reason", func(in *Input) { in.Outcome, in.Reason = "agreed", sp("unable") }, "reason", msgReasonTo},
		{"not home with a reason", func(in *Input) { in.Outcome, in.Reason = "not_home", sp("inconvenient") }, "reason", msgReasonTo},
		{"unknown reason", func(in *Input) { in.Reason = sp("lazy") }, "reason", msgReason},
		{"note 500", func(in *Input) { in.Note = sp(strings.Repeat("备", 500)) }, "", ""},
		{"note 501", func(in *Input) { in.Note = sp(strings.Repeat("备", 501)) }, "note", msgNote},
		{"note 500 lines of CRLF", func(in *Input) { in.Note = sp(strings.Repeat("\r\n", 500)) }, "", ""},
		{"note 499 + CRLF + 1", func(in *Input) { in.Note = sp(strings.Repeat("备", 499) + "\r\n" + "备") }, "note", msgNote},
		{"note with a tab", func(in *Input) { in.Note = sp("不在家\t下周再来") }, "note", msgNote},
		{"note with a bare CR", func(in *Input) { in.Note = sp("不在家\r下周再来") }, "note", msgNote},
		{"note with NUL", func(in *Input) { in.Note = sp("x\x00") }, "note", msgNote},
		{"note with newlines", func(in *Input) { in.Note = sp("不在家\n下周再来\r\n") }, "", ""},
		{"empty note", func(in *Input) { in.Note = sp("") }, "", ""},
		{"follow-up on the visit day", func(in *Input) { in.FollowUpOn = sp("2026-06-15") }, "", ""},
		{"follow-up the day before", func(in *Input) { in.FollowUpOn = sp("2026-06-14") }, "follow_up_on", msgFollow},
		{"follow-up a year on", func(in *Input) { in.FollowUpOn = sp("2027-06-15") }, "", ""},
		{"follow-up a year and a day on", func(in *Input) { in.FollowUpOn = sp("2027-06-16") }, "follow_up_on", msgFollow},
		{"follow-up not a date", func(in *Input) { in.FollowUpOn = sp("15/06/2026") }, "follow_up_on", msgDate},
		// 23:30 UTC on the 14th is the 15th in Shanghai: the visit day is the business day.
		{"visit day in Shanghai", func(in *Input) { in.VisitedAt, in.FollowUpOn = "2026-06-14T23:30:00Z", sp("2026-06-15") }, "", ""},
		{"visit day in Shanghai, UTC day", func(in *Input) { in.VisitedAt, in.FollowUpOn = "2026-06-14T23:30:00Z", sp("2026-06-14") }, "follow_up_on", msgFollow},
	} {
		in := ok
		c.edit(&in)
		for _, batch := range []bool{false, true} {
			_, err := s.check(in, batch, 3)
			what := fmt.Sprintf("%s (batch %v)", c.name, batch)
			if c.field == "" {
				if err != nil {
					t.Errorf("%s: %v", what, err)
				}
				continue
			}
			field := c.field
			if batch {
				field = "visits[3]." + c.field
			}
			wantField(t, what, err, errs.InvalidInput, field, c.msg)
		}
	}
}

// TestCheckNormalises: the client id in canonical form, the time in UTC to the microsecond,
// CRLF in notes as LF, the follow-up date as a civil date.
func TestCheckNormalises(t *testing.T) {
	s := pureService(t, time.Date(2026, 6, 15, 2, 0, 0, 0, time.UTC))
	v, err := s.check(Input{ClientID: strings.ToUpper(uuidA), ResidentID: 9, VisitedAt: "2026-06-15T09:30:00.123456789+08:00",
		Outcome: "refused", Reason: sp("unable"), Note: sp("第一行\r\n第二行"), FollowUpOn: sp("2026-07-01")}, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	follow := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	if v.clientID != uuidA || !v.visitedAt.Equal(time.Date(2026, 6, 15, 1, 30, 0, 123456000, time.UTC)) || v.visitedAt.Location() != time.UTC ||
		v.note != "第一行\n第二行" || v.followUp == nil || !v.followUp.Equal(follow) || v.in.ResidentID != 9 {
		t.Fatalf("check = %+v", v)
	}
	v, err = s.check(Input{ClientID: uuidA, ResidentID: 9, VisitedAt: "2026-06-15T09:30:00+08:00", Outcome: "agreed"}, false, 0)
	if err != nil || v.note != "" || v.followUp != nil {
		t.Fatalf("check = %+v, %v", v, err)
	}
}

// TestRecordRefusesBeforeTheDatabase: a bad visit or a client_id twice in one batch is refused
// before any transaction (the service here has no database at all).
func TestRecordRefusesBeforeTheDatabase(t *testing.T) {
	s := pureService(t, time.Date(2026, 6, 15, 2, 0, 0, 0, time.UTC))
	in := func(id string) Input {
		return Input{ClientID: id, ResidentID: 1, VisitedAt: "2026-06-15T09:00:00+08:00", Outcome: "agreed"}
	}
	other := "0b7e4f7a-3c52-4d0e-8a57-5b1f5c1e9f20"
	_, err := s.Record(context.Background(), audit.Context{}, nil, []Input{in(uuidA), in(other), in(strings.ToUpper(uuidA))}, true)
	wantField(t, "duplicate", err, errs.InvalidInput, "visits[2].client_id", "与第 1 条记录的 client_id 重复")
	_, err = s.Record(context.Background(), audit.Context{}, nil, []Input{in(other), in(uuidA), in(uuidA)}, true)
	wantField(t, "duplicate", err, errs.InvalidInput, "visits[2].client_id", "与第 2 条记录的 client_id 重复")
	bad := in(other)
	bad.ResidentID = 0
	_, err = s.Record(context.Background(), audit.Context{}, nil, []Input{in(uuidA), bad}, true)
	wantField(t, "bad second", err, errs.InvalidInput, "visits[1].resident_id", "请指定走访对象")
	_, err = s.Record(context.Background(), audit.Context{}, nil, []Input{bad}, false)
	wantField(t, "bad single", err, errs.InvalidInput, "resident_id", "请指定走访对象")
}

func TestDecodeBody(t *testing.T) {
	one := `{"client_id":"` + uuidA + `","resident_id":1,"visited_at":"2026-06-15T09:00:00+08:00","outcome":"agreed"}`
	batchOf := func(n int) string { return `{"visits":[` + strings.TrimSuffix(strings.Repeat(one+",", n), ",") + `]}` }
	for _, c := range []struct {
		name         string
		body         string
		n            int
		batch        bool
		code         errs.Code
		field, msg   string
		anyMessageOK bool
	}{
		{name: "one", body: one, n: 1},
		{name: "batch of 1", body: batchOf(1), n: 1, batch: true},
		{name: "batch of 200", body: batchOf(200), n: 200, batch: true},
		{name: "batch of 201", body: batchOf(201), batch: true, code: errs.InvalidInput, field: "visits", msg: "每批须为 1 至 200 条走访记录"},
		{name: "empty batch", body: `{"visits":[]}`, batch: true, code: errs.InvalidInput, field: "visits", msg: "每批须为 1 至 200 条走访记录"},
		{name: "null batch", body: `{"visits":null}`, batch: true, code: errs.InvalidInput, field: "visits", msg: "每批须为 1 至 200 条走访记录"},
		{name: "unknown field", body: `{"lat":1}`, code: errs.UnknownField, anyMessageOK: true},
		{name: "unknown field in a batch", body: `{"visits":[{"lat":1}]}`, batch: true, code: errs.UnknownField, anyMessageOK: true},
		{name: "array", body: `[]`, code: errs.InvalidInput, anyMessageOK: true},
		{name: "not JSON", body: `visit`, code: errs.MalformedJSON, anyMessageOK: true},
	} {
		inputs, batch, err := DecodeBody([]byte(c.body))
		if batch != c.batch {
			t.Errorf("%s: batch = %v", c.name, batch)
		}
		if c.code == "" {
			if err != nil || len(inputs) != c.n {
				t.Errorf("%s: %d inputs, %v", c.name, len(inputs), err)
				continue
			}
			want := Input{ClientID: uuidA, ResidentID: 1, VisitedAt: "2026-06-15T09:00:00+08:00", Outcome: "agreed"}
			if !reflect.DeepEqual(inputs[0], want) || !reflect.DeepEqual(inputs[c.n-1], want) {
				t.Errorf("%s: decoded %+v", c.name, inputs[0])
			}
			continue
		}
		e, ok := errs.As(err)
		if !ok || e.Code != c.code || inputs != nil || !c.anyMessageOK && (e.Field != c.field || e.Message != c.msg) {
			t.Errorf("%s: %v (%+v), %d inputs", c.name, err, e, len(inputs))
		}
	}
}

func TestFill(t *testing.T) {
	v := Visit{FollowUp: sql.NullTime{Time: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), Valid: true}, Note: sp("")}
	v.fill()
	if v.FollowUpOn == nil || *v.FollowUpOn != "2026-07-01" || v.Note != nil {
		t.Fatalf("fill: %+v", v)
	}
	v = Visit{Note: sp("在家")}
	v.fill()
	if v.FollowUpOn != nil || v.Note == nil || *v.Note != "在家" {
		t.Fatalf("fill: %+v", v)
	}
}

func TestFieldName(t *testing.T) {
	if got := fieldName(false, 4, "note"); got != "note" {
		t.Errorf("single: %q", got)
	}
	if got := fieldName(true, 0, "note"); got != "visits[0].note" {
		t.Errorf("batch: %q", got)
	}
}
