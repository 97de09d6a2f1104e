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

// sceneEvent is what a check-in reads of an event.
type sceneEvent struct {
	ID       int64     `db:"id"`
	Title    string    `db:"title"`
	Place    string    `db:"place"`
	StartsAt time.Time `db:"starts_at"`
	EndsAt   time.Time `db:"ends_at"`
}

// sceneCacheMax bounds the in-process cache of events by scene; it is emptied when full.
const sceneCacheMax = 4096

// byScene reads the event of a scene, from the in-process cache when it is there. Events never
// change once created (no route edits or deletes one), so every instance may keep them; unknown
// scenes are not cached.
func (s *Service) byScene(ctx context.Context, scene string) (sceneEvent, bool, error) {
	s.mu.Lock()
	e, ok := s.scenes[scene]
	s.mu.Unlock()
	if ok {
		return e, true, nil
	}
	err := s.d.DB.GetContext(ctx, &e, Queries.Get("event-by-scene"), scene)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, database.Map(err)
	}
	s.mu.Lock()
	if len(s.scenes) >= sceneCacheMax {
		clear(s.scenes)
	}
	s.scenes[scene] = e
	s.mu.Unlock()
	return e, true, nil
}

// CheckIn records that account scanned the code of the event with scene. It is idempotent:
// a resident already checked in gets the first answer again, even after the event ended. The
// first check-in is audited (event.checkin) in its transaction; a repeat writes nothing. While
// the event is open the insert is tried first (one round trip for the usual first scan) and a
// duplicate reads the first check-in's time.
func (s *Service) CheckIn(ctx context.Context, ac audit.Context, account int64, scene string) (Checkin, error) {
	if !wechat.ValidScene(scene) {
		return Checkin{}, errs.Field(errs.InvalidInput, "scene", "活动码内容不正确，请重新扫描活动海报上的小程序码")
	}
	e, ok, err := s.byScene(ctx, scene)
	if err != nil {
		return Checkin{}, err
	}
	if !ok {
		return Checkin{}, errs.Field(errs.NotFound, "scene", "未找到该宣传活动，请确认扫描的是镇劳保所发布的活动码")
	}
	out := Checkin{Event: Summary{ID: e.ID, Title: e.Title, Place: e.Place, StartsAt: e.StartsAt.UTC()}}
	now := s.Now().UTC().Truncate(time.Microsecond)
	if now.Before(s.OpensAt(e.StartsAt)) || !now.Before(e.EndsAt) {
		err := s.d.DB.GetContext(ctx, &out.CheckedInAt, Queries.Get("checkin-get"), e.ID, account)
		switch {
		case err == nil: // checked in while it was open: the same answer
			out.CheckedInAt = out.CheckedInAt.UTC()
			return out, nil
		case !errors.Is(err, sql.ErrNoRows):
			return Checkin{}, database.Map(err)
		case now.Before(e.EndsAt):
			return Checkin{}, errs.New(EventClosed, "活动尚未开始，请于 "+e.StartsAt.In(s.d.Location).Format("1月2日")+" 活动当天到现场扫码签到")
		}
		return Checkin{}, errs.New(EventClosed, "本次宣传活动已结束，无法签到。如需了解参保政策，请查看小程序中的政策解读或联系村（居）协办员")
	}
	err = database.InTx(ctx, s.d.DB, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, Queries.Get("checkin-insert"), e.ID, account, now); err != nil {
			return err
		}
		return s.d.Audit.RecordTx(ctx, tx, ac.Event("event.checkin", "event", e.ID, audit.Success, ""))
	})
	if database.IsDuplicate(err) { // checked in before (or another tap won): answer with that time
		err = s.d.DB.GetContext(ctx, &now, Queries.Get("checkin-get"), e.ID, account)
	}
	if err != nil {
		return Checkin{}, database.Map(err)
	}
	out.CheckedInAt = now.UTC()
	return out, nil
}
