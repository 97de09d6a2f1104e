package event

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/wechat"
)

// EventClosed is the code of a check-in outside the event's check-in hours.
var EventClosed = errs.Register("EVENT_CLOSED", 422)

// Summary is the event as a resident sees it after checking in.
type Summary struct {
	ID       int64     `json:"id"`
	Title    string    `json:"title"`
	Place    string    `json:"place"`
	StartsAt time.Time `json:"starts_at"`
}

// Checkin is the answer of a check-in, the same each time the resident checks in.
type Checkin struct {
	Event       Summary   `json:"event"`
	CheckedInAt time.Time `json:"checked_in_at"`
}

// OpensAt is when check-in opens: 00:00 of the event's first day in the business time zone,
// so that people who come early can check in. It closes at ends_at.
func (s *Service) OpensAt(start time.Time) time.Time {
	y, m, d := start.In(s.d.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, s.d.Location)
}

// CheckIn records that account scanned the code of the event with scene. It is idempotent:
// a resident already checked in gets the first answer again, even after the event ended. The
// first check-in is audited (event.checkin) in its transaction; a repeat writes nothing.
func (s *Service) CheckIn(ctx context.Context, ac audit.Context, account int64, scene string) (Checkin, error) {
	if !wechat.ValidScene(scene) {
		return Checkin{}, errs.Field(errs.InvalidInput, "scene", "活动码内容不正确，请重新扫描活动海报上的小程序码")
	}
	var e struct {
		ID       int64     `db:"id"`
		Title    string    `db:"title"`
		Place    string    `db:"place"`
		StartsAt time.Time `db:"starts_at"`
		EndsAt   time.Time `db:"ends_at"`
	}
	err := s.d.DB.GetContext(ctx, &e, Queries.Get("event-by-scene"), scene)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkin{}, errs.Field(errs.NotFound, "scene", "未找到该宣传活动，请确认扫描的是镇劳保所发布的活动码")
	}
	if err != nil {
		return Checkin{}, database.Map(err)
	}
	out := Checkin{Event: Summary{ID: e.ID, Title: e.Title, Place: e.Place, StartsAt: e.StartsAt.UTC()}}
	var at time.Time
	err = s.d.DB.GetContext(ctx, &at, Queries.Get("checkin-get"), e.ID, account)
	if err == nil {
		out.CheckedInAt = at.UTC()
		return out, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Checkin{}, database.Map(err)
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	if now.Before(s.OpensAt(e.StartsAt)) {
		return Checkin{}, errs.New(EventClosed, "活动尚未开始，请于 "+e.StartsAt.In(s.d.Location).Format("1月2日")+" 活动当天到现场扫码签到")
	}
	if !now.Before(e.EndsAt) {
		return Checkin{}, errs.New(EventClosed, "本次宣传活动已结束，无法签到。如需了解参保政策，请查看小程序中的政策解读或联系村（居）协办员")
	}
	err = database.InTx(ctx, s.d.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, Queries.Get("checkin-insert"), e.ID, account, now); err != nil {
			return err
		}
		return s.d.Audit.RecordTx(ctx, tx, ac.Event("event.checkin", "event", e.ID, audit.Success, ""))
	})
	if database.IsDuplicate(err) { // the same resident's other tap won: answer with its time
		err = s.d.DB.GetContext(ctx, &now, Queries.Get("checkin-get"), e.ID, account)
	}
	if err != nil {
		return Checkin{}, database.Map(err)
	}
	out.CheckedInAt = now.UTC()
	return out, nil
}
