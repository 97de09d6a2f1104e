package engine

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/counters"
	"github.com/canbao/canbao/internal/account"
	"github.com/canbao/canbao/internal/eligibility"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
)

// Skip reasons.
const (
	SkipNoConsent       = "no_consent"
	SkipNoContact       = "no_contact"
	SkipFrequencyCap    = "frequency_cap"
	SkipQuietHours      = "quiet_hours"
	SkipEnrolled        = "enrolled"
	SkipOptedOut        = "opted_out"
	SkipVisitedRecently = "visited_recently"
	SkipCancelled       = "cancelled"
)

func isNoGroup(err error) bool {
	return err != nil && len(err.Error()) >= 7 && err.Error()[:7] == "NOGROUP"
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// delivery is a delivery with what a worker needs about its resident.
type delivery struct {
	ID          int64          `db:"id"`
	Campaign    int64          `db:"campaign_id"`
	RunID       int64          `db:"run_id"`
	ResidentID  int64          `db:"resident_id"`
	Village     string         `db:"village_code"`
	Status      string         `db:"status"`
	Attempts    int            `db:"attempts"`
	NotBefore   sql.NullTime   `db:"not_before"`
	Name        string         `db:"name"`
	Gender      string         `db:"gender"`
	Birth       time.Time      `db:"birth_date"`
	Employed    bool           `db:"employed"`
	Land        bool           `db:"land_expropriated"`
	RStatus     string         `db:"rstatus"`
	OptedOut    bool           `db:"opted_out"`
	LastVisited sql.NullTime   `db:"last_visited_at"`
	PhoneEnc    []byte         `db:"phone_enc"`
	KeyID       string         `db:"pii_key_id"`
	AccountID   sql.NullInt64  `db:"account_id"`
	OpenID      sql.NullString `db:"openid"`
}

// plan is the chain of channels to try for one delivery, first usable first.
type plan struct {
	channels  []string
	recipient channels.Recipient
	wait      time.Time
}

// route works out which channels of the chain can reach the resident now.
func (e *Engine) route(ctx context.Context, c campaigns.Campaign, d delivery, now time.Time) (*plan, string, error) {
	r := channels.Recipient{DeliveryID: d.ID, ResidentID: d.ResidentID, Village: d.Village, Vars: e.vars(d, now)}
	if d.OpenID.Valid {
		r.OpenID, r.AccountID = d.OpenID.String, d.AccountID.Int64
	}
	if len(d.PhoneEnc) > 0 && slices.Contains(c.Spec.Channels, campaigns.ChannelSMS) {
		ph, err := e.Keyring.DecryptRow(d.PhoneEnc, d.KeyID, pii.AADResidentPhone, d.ResidentID)
		if err != nil {
			return nil, "", err
		}
		r.Phone = ph
	}
	p := &plan{recipient: r}
	noConsent := false
	for _, ch := range c.Spec.Channels {
		switch ch {
		case campaigns.ChannelWeChat:
			if r.OpenID == "" {
				continue
			}
			left, err := account.ConsentsLeft(ctx, e.DB, r.AccountID, c.Spec.Template.WeChat.TemplateID)
			if err != nil {
				return nil, "", err
			}
			if left <= 0 {
				noConsent = true
				continue
			}
		case campaigns.ChannelSMS:
			if r.Phone == "" {
				continue
			}
			if w, ok := e.nextWindow(c, now, campaigns.Window{From: clock(e.cfg.SMSWindow[0]), To: clock(e.cfg.SMSWindow[1])}); !ok {
				continue
			} else if w.After(now) {
				if len(p.channels) == 0 {
					// Nothing before SMS in the chain reaches them: wait for 08:00 rather than
					// fall through to a costlier channel (a volunteer's visit).
					p.wait = w
					return p, "", nil
				}
				continue
			}
		}
		p.channels = append(p.channels, ch)
	}
	if len(p.channels) == 0 {
		if noConsent {
			return nil, SkipNoConsent, nil
		}
		return nil, SkipNoContact, nil
	}
	return p, "", nil
}

func clock(min int) string {
	return time.Date(2000, 1, 1, min/60, min%60, 0, 0, time.UTC).Format("15:04")
}

// vars fills the template placeholders for one resident.
func (e *Engine) vars(d delivery, now time.Time) campaigns.Vars {
	v := campaigns.Vars{Name: d.Name, Village: e.villages[d.Village], Scheme: "基本养老保险"}
	if y, err := e.Rules.For(now.In(e.Location).Year()); err == nil {
		v.Deadline = y.Deadline
		if len(y.Tiers) > 0 {
			v.Tier = strconv.Itoa(y.Tiers[0].Amount)
		}
		res, err := eligibility.Evaluate(y, eligibility.Person{Gender: idcard.Gender(d.Gender), Birth: d.Birth, Employed: d.Employed, LandExpropriated: d.Land}, dayOf(now, e.Location))
		if err == nil {
			v.Scheme = map[string]string{"resident_pension": "城乡居民养老保险", "employee_pension": "职工养老保险"}[res.Recommended.Scheme]
		}
	}
	return v
}

// nextWindow says when the window next opens (now if it is open); false when the campaign
// ends before that.
func (e *Engine) nextWindow(c campaigns.Campaign, now time.Time, w campaigns.Window) (time.Time, bool) {
	from, _ := campaigns.ParseClock(w.From)
	to, _ := campaigns.ParseClock(w.To)
	local := now.In(e.Location)
	mins := local.Hour()*60 + local.Minute()
	var at time.Time
	switch {
	case mins >= from && mins < to:
		at = now
	case mins < from:
		at = time.Date(local.Year(), local.Month(), local.Day(), from/60, from%60, 0, 0, e.Location)
	default:
		at = time.Date(local.Year(), local.Month(), local.Day()+1, from/60, from%60, 0, 0, e.Location)
	}
	if end := c.Spec.Schedule.EndAt; end != nil && !at.Before(*end) {
		return time.Time{}, false
	}
	return at, true
}

// send tries the plan's channels in order and returns the outcome to record. A permanent
// failure moves to the next channel; a transient one puts the delivery back in the queue (a
// few times); a send whose answer never came is unknown, neither resent nor tried on the next
// channel.
func (e *Engine) send(ctx context.Context, it *item) outcome {
	c, d, p := &it.c, &it.d, it.plan
	var lastErr error
	lastChannel := ""
	for i, name := range p.channels {
		ch, ok := e.Channels[name]
		if !ok {
			continue
		}
		if i > 0 && !e.fallbackToken(ctx, c, name) {
			return e.retry(d, errThrottled)
		}
		if name == campaigns.ChannelWeChat {
			spent, err := e.spendConsent(ctx, p.recipient.AccountID, c.Spec.Template.WeChat.TemplateID)
			if err != nil {
				return e.retry(d, err)
			}
			if !spent {
				continue // spent by another message meanwhile
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		msgID, err := ch.Send(sctx, c, p.recipient)
		cancel()
		if err == nil {
			return outcome{d: d, to: campaigns.DeliverySent, channel: name, msgID: msgID}
		}
		if channels.IsOutcomeUnknown(err) {
			// It may have reached the resident (and a WeChat consent it used is not given back).
			return outcome{d: d, to: campaigns.DeliveryUnknown, channel: name, code: channels.ErrorCode(err)}
		}
		lastErr, lastChannel = err, name
		if name == campaigns.ChannelWeChat {
			e.afterWeChatError(ctx, p.recipient.AccountID, c.Spec.Template.WeChat.TemplateID, err)
		}
		if !channels.IsPermanent(err) {
			return e.retry(d, err)
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no channel could be used")
	}
	return outcome{d: d, to: campaigns.DeliveryFailed, channel: lastChannel, code: channels.ErrorCode(lastErr)}
}

// retry puts a claimed delivery back in the queue after a transient failure, after a backoff
// that doubles each attempt, or fails it after the last attempt.
func (e *Engine) retry(d *delivery, cause error) outcome {
	if d.Attempts+1 >= e.cfg.MaxAttempts {
		return outcome{d: d, to: campaigns.DeliveryFailed, code: channels.ErrorCode(cause)}
	}
	backoff := e.cfg.RetryBackoff
	if backoff <= 0 {
		backoff = 30 * time.Second
	}
	backoff *= 1 << d.Attempts
	return outcome{d: d, to: campaigns.DeliveryQueued, code: channels.ErrorCode(cause), notBefore: database.Now().Add(backoff)}
}

// spendConsent uses one of the resident's one-time consents for the template (the ledger is
// internal/account's).
func (e *Engine) spendConsent(ctx context.Context, accountID int64, template string) (bool, error) {
	return account.SpendConsent(ctx, e.DB, accountID, template, database.Now())
}

// afterWeChatError: 43101 means the user has no consent left at WeChat, so our ledger is set
// to nothing; a transient error gives the unused consent back.
func (e *Engine) afterWeChatError(ctx context.Context, accountID int64, template string, err error) {
	code := channels.ErrorCode(err)
	switch {
	case code == "wechat:43101":
		_ = account.NoConsentLeft(ctx, e.DB, accountID, template, database.Now())
	case !channels.IsPermanent(err):
		_ = account.GiveConsentBack(ctx, e.DB, accountID, template, database.Now())
	}
}

// finish moves a delivery from one status to a final one, if it is still in the first, and
// counts the move (ch) with it.
func (e *Engine) finish(ctx context.Context, campaign, id int64, from, to, reason, channel, code string, ch counters.Change) (bool, error) {
	return e.moveCounted(ctx, campaign, func(tx *sqlx.Tx) (*counters.Change, error) {
		if ok, err := campaigns.Finish(ctx, tx, id, from, to, reason, channel, code, database.Now()); err != nil || !ok {
			return nil, err
		}
		return &ch, nil
	})
}

// moveCounted runs move (one delivery's move, guarded by its current status; it returns the
// counter change, or nil when the delivery was no longer where the move expected it) and
// applies the change to the live counters before the commit, all under the lock of the
// campaign's row. The completion of a run rebuilds the counters from the outbox under that
// row's lock: a move counted after its commit could land after the rebuild, which
// already holds it, and be counted twice. Counted before the commit, a move is in the outbox
// the rebuild reads; a commit that fails after the count leaves the counters one off until that
// rebuild.
func (e *Engine) moveCounted(ctx context.Context, campaign int64, move func(tx *sqlx.Tx) (*counters.Change, error)) (bool, error) {
	moved := false
	err := database.InTx(ctx, e.DB, func(tx *sqlx.Tx) error {
		moved = false
		if _, err := tx.ExecContext(ctx, Queries.Get("campaign-lock-move"), campaign); err != nil {
			return database.Map(err)
		}
		ch, err := move(tx)
		if err != nil || ch == nil {
			return err
		}
		moved = true
		e.count(ctx, *ch)
		return nil
	})
	return moved && err == nil, err
}

func change(campaign int64, village, from, to string) counters.Change {
	return counters.Change{Campaign: campaign, Village: village, From: from, To: to}
}

func skipChange(campaign int64, village, from, reason string) counters.Change {
	return counters.Change{Campaign: campaign, Village: village, From: from, To: campaigns.DeliverySkipped, Reason: reason}
}

// count updates the live counters, every change in one round trip; a failure only makes them
// stale until the next rebuild.
func (e *Engine) count(ctx context.Context, chs ...counters.Change) {
	if len(chs) == 0 {
		return
	}
	if e.countHook != nil {
		for _, ch := range chs {
			e.countHook(ch, func() {
				if err := e.Counters.Apply(ctx, ch); err != nil {
					e.Log.Warn("engine: counters", "err", err)
				}
			})
		}
		return
	}
	if err := e.Counters.Apply(ctx, chs...); err != nil {
		e.Log.Warn("engine: counters", "err", err)
	}
}
