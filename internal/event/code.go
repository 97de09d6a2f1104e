package event

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/wechat"
)

// CodeWidth is the width in pixels of the code asked of WeChat (enough for an A4 poster).
const CodeWidth = 860

type codeFlight struct {
	done chan struct{}
	img  wechat.Image
	err  error
}

// Code returns the event's mini-program code: from event_codes, or fetched from WeChat once
// and stored there. Concurrent requests in one process share one WeChat call; two instances
// fetching at the same moment may both call, and the first stored image is kept.
func (s *Service) Code(ctx context.Context, ev Event) (wechat.Image, error) {
	if img, ok, err := s.storedCode(ctx, ev.ID); err != nil || ok {
		return img, err
	}
	s.mu.Lock()
	f := s.fetches[ev.ID]
	if f == nil {
		f = &codeFlight{done: make(chan struct{})}
		s.fetches[ev.ID] = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			f.img, f.err = s.fetchCode(fctx, ev)
			s.mu.Lock()
			delete(s.fetches, ev.ID)
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.img, f.err
	case <-ctx.Done():
		return wechat.Image{}, ctx.Err()
	}
}

func (s *Service) storedCode(ctx context.Context, id int64) (wechat.Image, bool, error) {
	var c struct {
		Type  string `db:"content_type"`
		Image []byte `db:"image"`
	}
	err := s.d.DB.GetContext(ctx, &c, Queries.Get("code-get"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return wechat.Image{}, false, nil
	}
	if err != nil {
		return wechat.Image{}, false, database.Map(err)
	}
	return wechat.Image{ContentType: c.Type, Bytes: c.Image}, true, nil
}

func (s *Service) fetchCode(ctx context.Context, ev Event) (wechat.Image, error) {
	if img, ok, err := s.storedCode(ctx, ev.ID); err != nil || ok { // another caller just stored it
		return img, err
	}
	img, err := s.d.WeChat.WXACodeUnlimited(ctx, wechat.WXACode{Scene: ev.Scene, Page: s.d.Page, EnvVersion: s.d.EnvVersion, Width: CodeWidth})
	if err != nil {
		e := errs.Wrap(errs.Unavailable, err, "暂时无法从微信获取活动的小程序码，请稍后再试")
		if wechat.IsTemporary(err) {
			e.RetryAfter = 5 * time.Second
		}
		return wechat.Image{}, e
	}
	if _, err := s.d.DB.ExecContext(ctx, Queries.Get("code-insert"), ev.ID, img.ContentType, img.Bytes, database.Now()); err != nil {
		return wechat.Image{}, database.Map(err)
	}
	img, _, err = s.storedCode(ctx, ev.ID) // the first stored one, if two instances raced
	return img, err
}
