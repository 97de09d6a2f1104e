package engine

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

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

// work reads delivery ids from the stream until ctx ends.
func (e *Engine) work(ctx context.Context, consumer string) {
	for ctx.Err() == nil {
		res, err := e.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: e.group, Consumer: consumer, Streams: []string{e.stream, ">"},
			Count: 10, Block: time.Second}).Result()
		if err != nil {
			if errors.Is(err, redis.Nil) || ctx.Err() != nil {
				continue
			}
			if isNoGroup(err) {
				_ = e.ensureGroup(ctx)
			} else {
				e.Log.Warn("engine: read stream", "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		for _, s := range res {
			for _, m := range s.Messages {
				id, _ := strconv.ParseInt(toString(m.Values["d"]), 10, 64)
				// Once ctx ends no new delivery is taken up: the rest of the batch stays queued
				// in MySQL and the reconciler feeds it again.
				if id > 0 && ctx.Err() == nil {
					if err := e.process(ctx, id); err != nil {
						e.Log.Warn("engine: delivery", "delivery", id, "err", err)
					}
				}
				e.Redis.XAck(context.WithoutCancel(ctx), e.stream, e.group, m.ID)
			}
		}
	}
}

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

// process takes one delivery as far as it can go now. stop ends only the wait for the rate:
// a claimed send finishes even if stop has ended (it is bounded by its timeout).
func (e *Engine) process(stop context.Context, id int64) error {
	ctx := context.WithoutCancel(stop)
	var d delivery
	if err := e.DB.GetContext(ctx, &d, Queries.Get("delivery-load"), id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return database.Map(err)
	}
	if d.Status != campaigns.DeliveryQueued {
		return nil // already handled: a duplicate on the stream
	}
	c, err := e.campaign(ctx, d.Campaign)
	if err != nil {
		return err
	}
	now := e.now()
	switch {
	case c.Status == campaigns.StatusCancelled:
		return e.skip(ctx, d, SkipCancelled)
	case c.Status != campaigns.StatusRunning:
		return nil // paused: stays queued; the reconciler feeds it again after resume
	case d.NotBefore.Valid && d.NotBefore.Time.After(now):
		return nil // waiting for its window
	}
	// Re-check at send time what may have changed since the snapshot.
	switch {
	case d.OptedOut:
		return e.skip(ctx, d, SkipOptedOut)
	case (d.RStatus == "resident_pension" || d.RStatus == "employee_pension") && !slices.Contains(c.Spec.Segment.Statuses, d.RStatus):
		return e.skip(ctx, d, SkipEnrolled)
	case d.LastVisited.Valid && now.Sub(d.LastVisited.Time) < e.cfg.VisitedRecently:
		return e.skip(ctx, d, SkipVisitedRecently)
	}
	// The campaign's daily window: outside it, wait for the next one (or skip if the campaign
	// ends first).
	if wait, ok := e.nextWindow(c, now, c.Spec.Schedule.Window); !ok {
		return e.skip(ctx, d, SkipQuietHours)
	} else if wait.After(now) {
		return e.waitUntil(ctx, d, wait)
	}
	plan, reason, err := e.route(ctx, c, d, now)
	if err != nil {
		return err
	}
	if plan == nil {
		return e.skip(ctx, d, reason)
	}
	if w := plan.wait; !w.IsZero() {
		return e.waitUntil(ctx, d, w)
	}
	if err := e.throttle(stop, c); err != nil {
		if stop.Err() != nil {
			return nil // stopping: not claimed, it stays queued
		}
		return err
	}
	claimed, capped, err := e.claim(ctx, c, d)
	if err != nil || !claimed {
		return err
	}
	if capped {
		return nil
	}
	return e.send(ctx, c, d, plan)
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
	if len(d.PhoneEnc) > 0 {
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

// throttle waits for the campaign's rate (GCRA in Redis, shared by every instance).
func (e *Engine) throttle(ctx context.Context, c campaigns.Campaign) error {
	limit := redisRateLimit(c.Spec.RatePerMinute)
	for {
		res, err := e.limiter.Allow(ctx, e.Prefix+"engine:rate:"+strconv.FormatInt(c.ID, 10), limit)
		if err != nil {
			return err
		}
		if res.Allowed > 0 {
			return nil
		}
		sleep(ctx, res.RetryAfter)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// claim moves the delivery to sending, or skips it when the resident's frequency cap is used
// up. The resident row is locked so that two campaigns cannot both take the last slot.
func (e *Engine) claim(ctx context.Context, c campaigns.Campaign, d delivery) (claimed, capped bool, err error) {
	err = database.InTx(ctx, e.DB, func(tx *sqlx.Tx) error {
		claimed, capped = false, false
		if _, err := tx.ExecContext(ctx, Queries.Get("resident-lock"), d.ResidentID); err != nil {
			return database.Map(err)
		}
		// The campaign may have been paused or cancelled since the worker read it (a cached
		// copy, then a wait for the rate): a shared lock on its row orders this claim after a
		// pause or cancel that committed, so none is claimed once the action has answered.
		var status string
		if err := tx.GetContext(ctx, &status, Queries.Get("campaign-status-shared"), d.Campaign); err != nil {
			return database.Map(err)
		}
		if status != campaigns.StatusRunning {
			return nil // stays queued: fed again after a resume, skipped after a cancel
		}
		now := database.Now()
		if fc := c.Spec.FrequencyCap; fc != nil {
			var n int
			if err := tx.GetContext(ctx, &n, Queries.Get("resident-recent-sends"), d.ResidentID, now.AddDate(0, 0, -fc.PerDays)); err != nil {
				return database.Map(err)
			}
			if n >= fc.Max {
				var err error
				if capped, err = campaigns.SkipQueued(ctx, tx, d.ID, SkipFrequencyCap, now); err != nil {
					return err
				}
				if capped {
					e.count(ctx, skipChange(d.Campaign, d.Village, campaigns.DeliveryQueued, SkipFrequencyCap))
				}
				return nil
			}
		}
		var err error
		if claimed, err = campaigns.Claim(ctx, tx, d.ID, now.Add(e.cfg.Lease), now); err != nil {
			return err
		}
		if claimed {
			e.count(ctx, change(d.Campaign, d.Village, campaigns.DeliveryQueued, campaigns.DeliverySending))
		}
		return nil
	})
	return claimed || capped, capped, err
}

// send tries the plan's channels in order. A permanent failure moves to the next channel; a
// transient one puts the delivery back in the queue (a few times); the outcome is stored.
func (e *Engine) send(ctx context.Context, c campaigns.Campaign, d delivery, p *plan) error {
	var lastErr error
	lastChannel := ""
	for _, name := range p.channels {
		ch, ok := e.Channels[name]
		if !ok {
			continue
		}
		if name == campaigns.ChannelWeChat {
			spent, err := e.spendConsent(ctx, p.recipient.AccountID, c.Spec.Template.WeChat.TemplateID)
			if err != nil {
				return e.retry(ctx, d, err)
			}
			if !spent {
				continue // spent by another message meanwhile
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		msgID, err := ch.Send(sctx, &c, p.recipient)
		cancel()
		if err == nil {
			return e.sent(ctx, c, d, name, msgID)
		}
		if channels.IsOutcomeUnknown(err) {
			// It may have reached the resident: neither resent nor tried on the next channel
			// (and a WeChat consent it used is not given back).
			_, err := e.finish(ctx, d.Campaign, d.ID, campaigns.DeliverySending, campaigns.DeliveryUnknown, "", name, channels.ErrorCode(err),
				change(d.Campaign, d.Village, campaigns.DeliverySending, campaigns.DeliveryUnknown))
			return err
		}
		lastErr, lastChannel = err, name
		if name == campaigns.ChannelWeChat {
			e.afterWeChatError(ctx, p.recipient.AccountID, c.Spec.Template.WeChat.TemplateID, err)
		}
		if !channels.IsPermanent(err) {
			return e.retry(ctx, d, err)
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no channel could be used")
	}
	_, err := e.finish(ctx, d.Campaign, d.ID, campaigns.DeliverySending, campaigns.DeliveryFailed, "", lastChannel, channels.ErrorCode(lastErr),
		counters.Change{Campaign: d.Campaign, Village: d.Village, From: campaigns.DeliverySending, To: campaigns.DeliveryFailed, Channel: lastChannel})
	return err
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

func (e *Engine) sent(ctx context.Context, c campaigns.Campaign, d delivery, channel, msgID string) error {
	now := database.Now()
	_, err := e.moveCounted(ctx, d.Campaign, func(tx *sqlx.Tx) (*counters.Change, error) {
		if ok, err := campaigns.MarkSent(ctx, tx, d.ID, channel, msgID, now); err != nil || !ok {
			return nil, err
		}
		// reached counts distinct people: this one only if no other run of the campaign reached
		// them (the (resident, status, sent_at) index makes it a look at a handful of rows).
		var before int
		if err := tx.GetContext(ctx, &before, Queries.Get("resident-reached-before"), d.ResidentID, d.Campaign, d.ID); err != nil {
			return nil, database.Map(err)
		}
		return &counters.Change{Campaign: d.Campaign, Village: d.Village, From: campaigns.DeliverySending, To: campaigns.DeliverySent, Channel: channel, ResidentID: d.ResidentID,
			FirstReach: before == 0, At: now}, nil
	})
	if err != nil {
		return err // the lease will retire it as unknown: never resent blindly
	}
	if channel != campaigns.ChannelVisitTask && e.cfg.RemindersForVisit > 0 {
		return e.maybeVisitTask(ctx, c, d)
	}
	return nil
}

// maybeVisitTask turns a person who got K reminders without enrolling into a visit task.
func (e *Engine) maybeVisitTask(ctx context.Context, c campaigns.Campaign, d delivery) error {
	var n int
	if err := e.DB.GetContext(ctx, &n, Queries.Get("resident-reminders"), d.ResidentID); err != nil {
		return database.Map(err)
	}
	if n < e.cfg.RemindersForVisit || d.RStatus != "unenrolled" {
		return nil
	}
	vt := e.Channels[campaigns.ChannelVisitTask]
	if vt == nil {
		return nil
	}
	_, err := vt.Send(ctx, &c, channels.Recipient{DeliveryID: d.ID, ResidentID: d.ResidentID, Village: d.Village, Vars: campaigns.Vars{Name: d.Name}})
	return err
}

// retry returns a claimed delivery to the queue after a transient failure, or fails it after
// the last attempt.
func (e *Engine) retry(ctx context.Context, d delivery, cause error) error {
	if d.Attempts+1 >= e.cfg.MaxAttempts {
		_, err := e.finish(ctx, d.Campaign, d.ID, campaigns.DeliverySending, campaigns.DeliveryFailed, "", "", channels.ErrorCode(cause),
			counters.Change{Campaign: d.Campaign, Village: d.Village, From: campaigns.DeliverySending, To: campaigns.DeliveryFailed})
		return err
	}
	backoff := e.cfg.RetryBackoff
	if backoff <= 0 {
		backoff = 30 * time.Second
	}
	backoff *= 1 << d.Attempts
	_, err := e.moveCounted(ctx, d.Campaign, func(tx *sqlx.Tx) (*counters.Change, error) {
		if ok, err := campaigns.Requeue(ctx, tx, d.ID, database.Now().Add(backoff), channels.ErrorCode(cause), database.Now()); err != nil || !ok {
			return nil, err
		}
		ch := change(d.Campaign, d.Village, campaigns.DeliverySending, campaigns.DeliveryQueued)
		return &ch, nil
	})
	return err
}

// waitUntil keeps a queued delivery waiting until at (its window). It carries no error code
// while it waits, which is how the stats tell a wait for a window from a retry's backoff.
func (e *Engine) waitUntil(ctx context.Context, d delivery, at time.Time) error {
	return campaigns.WaitUntil(ctx, e.DB, d.ID, at.UTC(), database.Now())
}

func (e *Engine) skip(ctx context.Context, d delivery, reason string) error {
	_, err := e.finish(ctx, d.Campaign, d.ID, campaigns.DeliveryQueued, campaigns.DeliverySkipped, reason, "", "",
		skipChange(d.Campaign, d.Village, campaigns.DeliveryQueued, reason))
	return err
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
// applies the change to the live counters before the commit, all under a shared lock on the
// campaign's row. The completion of a run rebuilds the counters from the outbox under that
// row's exclusive lock: a move counted after its commit could land after the rebuild, which
// already holds it, and be counted twice. Counted before the commit, a move is in the outbox
// the rebuild reads; a commit that fails after the count leaves the counters one off until that
// rebuild.
func (e *Engine) moveCounted(ctx context.Context, campaign int64, move func(tx *sqlx.Tx) (*counters.Change, error)) (bool, error) {
	moved := false
	err := database.InTx(ctx, e.DB, func(tx *sqlx.Tx) error {
		moved = false
		if _, err := tx.ExecContext(ctx, Queries.Get("campaign-lock-shared"), campaign); err != nil {
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

// count updates the live counters; a failure only makes them stale until the next rebuild.
func (e *Engine) count(ctx context.Context, ch counters.Change) {
	apply := func() {
		if err := e.Counters.Apply(ctx, ch); err != nil {
			e.Log.Warn("engine: counters", "err", err)
		}
	}
	if e.countHook != nil {
		e.countHook(ch, apply)
		return
	}
	apply()
}
