// Package counters keeps each campaign's live outreach counters in Redis: deliveries by status,
// skip reason, channel, village and day, and the exact number of distinct people reached. They
// are a cache of the delivery outbox in MySQL: Rebuild recomputes them from it, and Stats
// rebuilds them when Redis has lost them.
package counters

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/canbao/canbao/internal/platform/database"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("counters", queryFS, "queries.sql")

// Counters reads and writes the counters.
type Counters struct {
	db     *sqlx.DB
	rdb    redis.UniversalClient
	prefix string
	loc    *time.Location
	now    func() time.Time
}

// New wires the counters.
func New(db *sqlx.DB, rdb redis.UniversalClient, prefix string, loc *time.Location) *Counters {
	return &Counters{db: db, rdb: rdb, prefix: prefix, loc: loc, now: time.Now}
}

// Tag is the Redis Cluster hash tag of a campaign's keys ("{c42}"): keys used together in one
// transaction or script must share a slot, and so they share the tag.
func Tag(campaign int64) string { return "{c" + strconv.FormatInt(campaign, 10) + "}" }

func (c *Counters) key(campaign int64) string {
	return c.prefix + "cstat:" + Tag(campaign)
}

// reach is the HyperLogLog older versions kept; Rebuild deletes it.
func (c *Counters) reach(campaign int64) string {
	return c.prefix + "creach:" + Tag(campaign)
}

// legacyKeys are the campaign's keys from before they had a hash tag; Rebuild deletes them
// (one key per command: they live in other slots).
func (c *Counters) legacyKeys(campaign int64) []string {
	id := strconv.FormatInt(campaign, 10)
	return []string{c.prefix + "cstat:" + id, c.prefix + "creach:" + id}
}

// Statuses of a delivery, by which the counters count (campaigns names them Delivery*).
const (
	Queued  = "queued"
	Sending = "sending"
	Sent    = "sent"
	Failed  = "failed"
	Unknown = "unknown"
	Skipped = "skipped"
)

// Change is one delivery moving from one state to another. From is "" for a new delivery.
type Change struct {
	Campaign   int64
	Village    string
	From, To   string // statuses
	Reason     string // skip reason, when To is skipped
	Channel    string // when To is sent or failed
	ResidentID int64  // when To is sent
	// FirstReach: To is sent and the resident had no sent delivery of the campaign before
	// (another run's), so reached grows by one.
	FirstReach bool
	At         time.Time
}

// Apply records changes in one round trip. A failure is returned for logging; the outbox is the
// truth and Rebuild repairs the cache.
func (c *Counters) Apply(ctx context.Context, changes ...Change) error {
	if len(changes) == 0 {
		return nil
	}
	pipe := c.rdb.Pipeline()
	for _, ch := range changes {
		k := c.key(ch.Campaign)
		if ch.From == "" {
			pipe.HIncrBy(ctx, k, "targeted", 1)
			pipe.HIncrBy(ctx, k, "vil:"+ch.Village+":targeted", 1)
		} else {
			pipe.HIncrBy(ctx, k, "status:"+ch.From, -1)
		}
		pipe.HIncrBy(ctx, k, "status:"+ch.To, 1)
		switch ch.To {
		case Skipped:
			pipe.HIncrBy(ctx, k, "skip:"+ch.Reason, 1)
			pipe.HIncrBy(ctx, k, "vil:"+ch.Village+":skipped", 1)
		case Sent, Failed:
			pipe.HIncrBy(ctx, k, "vil:"+ch.Village+":"+ch.To, 1)
			if ch.Channel != "" {
				pipe.HIncrBy(ctx, k, "ch:"+ch.Channel+":"+ch.To, 1)
			}
			if ch.To == Sent {
				pipe.HIncrBy(ctx, k, "day:"+ch.At.In(c.loc).Format("20060102")+":sent", 1)
				if ch.FirstReach {
					pipe.HIncrBy(ctx, k, "reached", 1)
				}
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Rebuild recomputes one campaign's counters from the outbox.
func (c *Counters) Rebuild(ctx context.Context, campaign int64) error {
	var rows []struct {
		Village string `db:"village_code"`
		Status  string `db:"status"`
		Reason  string `db:"skip_reason"`
		Channel string `db:"channel"`
		N       int64  `db:"n"`
	}
	if err := c.db.SelectContext(ctx, &rows, Queries.Get("outbox-by-status"), campaign); err != nil {
		return database.Map(err)
	}
	// Days are counted in Go from sent_at to stay in the business time zone without SQL tz tables.
	var sentAt []time.Time
	if err := c.db.SelectContext(ctx, &sentAt, Queries.Get("outbox-sent-at"), campaign); err != nil {
		return database.Map(err)
	}
	var reached int64
	if err := c.db.GetContext(ctx, &reached, Queries.Get("outbox-reached"), campaign); err != nil {
		return database.Map(err)
	}
	h := map[string]int64{"built": 1, "reached": reached}
	for _, r := range rows {
		h["targeted"] += r.N
		h["vil:"+r.Village+":targeted"] += r.N
		h["status:"+r.Status] += r.N
		switch r.Status {
		case Skipped:
			h["skip:"+r.Reason] += r.N
			h["vil:"+r.Village+":skipped"] += r.N
		case Sent, Failed:
			h["vil:"+r.Village+":"+r.Status] += r.N
			if r.Channel != "" {
				h["ch:"+r.Channel+":"+r.Status] += r.N
			}
		}
	}
	for _, t := range sentAt {
		h["day:"+t.In(c.loc).Format("20060102")+":sent"]++
	}
	vals := make(map[string]any, len(h))
	for k, v := range h {
		vals[k] = v
	}
	// One slot ({cN}): the transaction is valid in a Redis Cluster too.
	pipe := c.rdb.TxPipeline()
	pipe.Del(ctx, c.key(campaign), c.reach(campaign))
	pipe.HSet(ctx, c.key(campaign), vals)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for _, k := range c.legacyKeys(campaign) {
		if err := c.rdb.Del(ctx, k).Err(); err != nil {
			return err
		}
	}
	return nil
}

// EnsureBuilt rebuilds a campaign's counters when Redis has lost them, or when they were built
// before reached was kept exactly (no "reached" field).
func (c *Counters) EnsureBuilt(ctx context.Context, campaign int64) error {
	v, err := c.rdb.HMGet(ctx, c.key(campaign), "built", "reached").Result()
	if err != nil {
		return err
	}
	if v[0] == nil || v[1] == nil {
		return c.Rebuild(ctx, campaign)
	}
	return nil
}

// RebuildAll rebuilds the counters of every campaign that has deliveries.
func (c *Counters) RebuildAll(ctx context.Context, onlyMissing bool) (int, error) {
	var ids []int64
	if err := c.db.SelectContext(ctx, &ids, Queries.Get("campaigns-not-draft")); err != nil {
		return 0, database.Map(err)
	}
	n := 0
	for _, id := range ids {
		var err error
		if onlyMissing {
			err = c.EnsureBuilt(ctx, id)
		} else {
			err = c.Rebuild(ctx, id)
		}
		if err != nil {
			return n, fmt.Errorf("campaign %d: %w", id, err)
		}
		n++
	}
	return n, nil
}

// Slice is the counters of one village or channel.
type Slice map[string]int64

// Stats are a campaign's live counters.
type Stats struct {
	Targeted  int64            `json:"targeted"`
	Queued    int64            `json:"queued"`
	Sending   int64            `json:"sending"`
	Sent      int64            `json:"sent"`
	Failed    int64            `json:"failed"`
	Unknown   int64            `json:"unknown"`
	Skipped   map[string]int64 `json:"skipped"`
	Reached   int64            `json:"reached"` // distinct people sent to, exact
	Converted int64            `json:"converted"`
	ByVillage map[string]Slice `json:"by_village"`
	ByChannel map[string]Slice `json:"by_channel"`
	ByDay     map[string]int64 `json:"by_day"` // sent per day (Asia/Shanghai, YYYYMMDD)
	// ConvertedByDay: conversions per day the person enrolled (Asia/Shanghai, YYYYMMDD, as
	// ByDay); it sums to Converted.
	ConvertedByDay map[string]int64 `json:"converted_by_day"`
	Waiting        Waiting          `json:"waiting"`
}

// Waiting is what is queued but may not go out yet.
type Waiting struct {
	// ForWindow: queued until a send window opens (the campaign's daily window, or the SMS
	// hours when SMS is the first channel that can reach the person).
	ForWindow int64 `json:"waiting_for_window"`
	// Until: when the first of them may go (Asia/Shanghai); null when none waits.
	Until *time.Time `json:"until"`
	// ForRetry: queued again after a transient failure, until its backoff ends.
	ForRetry int64 `json:"waiting_for_retry"`
}

// Stats reads a campaign's counters, rebuilding them first if Redis lost them. Conversions come
// from their table (written in the enrollment's transaction).
func (c *Counters) Stats(ctx context.Context, campaign int64) (Stats, error) {
	if err := c.EnsureBuilt(ctx, campaign); err != nil {
		return Stats{}, err
	}
	all, err := c.rdb.HGetAll(ctx, c.key(campaign)).Result()
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Skipped: map[string]int64{"no_consent": 0, "frequency_cap": 0, "quiet_hours": 0, "no_contact": 0},
		ByVillage: map[string]Slice{}, ByChannel: map[string]Slice{}, ByDay: map[string]int64{},
		ConvertedByDay: map[string]int64{}}
	for k, v := range all {
		n, _ := strconv.ParseInt(v, 10, 64)
		parts := strings.Split(k, ":")
		switch {
		case k == "targeted":
			s.Targeted = n
		case k == "reached":
			s.Reached = n
		case parts[0] == "status" && len(parts) == 2:
			switch parts[1] {
			case Queued:
				s.Queued = n
			case Sending:
				s.Sending = n
			case Sent:
				s.Sent = n
			case Failed:
				s.Failed = n
			case Unknown:
				s.Unknown = n
			}
		case parts[0] == "skip" && len(parts) == 2:
			s.Skipped[parts[1]] = n
		case parts[0] == "vil" && len(parts) == 3:
			if s.ByVillage[parts[1]] == nil {
				s.ByVillage[parts[1]] = Slice{"targeted": 0, Sent: 0, Failed: 0, Skipped: 0, "converted": 0}
			}
			s.ByVillage[parts[1]][parts[2]] = n
		case parts[0] == "ch" && len(parts) == 3:
			if s.ByChannel[parts[1]] == nil {
				s.ByChannel[parts[1]] = Slice{Sent: 0, Failed: 0, "converted": 0}
			}
			s.ByChannel[parts[1]][parts[2]] = n
		case parts[0] == "day" && len(parts) == 3:
			s.ByDay[parts[1]] = n
		}
	}
	if s.Queued > 0 {
		if s.Waiting, err = c.waiting(ctx, campaign); err != nil {
			return Stats{}, err
		}
	}
	var conv []struct {
		Village string    `db:"village_code"`
		Channel string    `db:"channel"`
		Day     time.Time `db:"converted_on"` // a civil date, read as its 00:00
		N       int64     `db:"n"`
	}
	if err := c.db.SelectContext(ctx, &conv, Queries.Get("conversions-of-campaign"), campaign); err != nil {
		return Stats{}, database.Map(err)
	}
	for _, cv := range conv {
		s.Converted += cv.N
		s.ConvertedByDay[cv.Day.Format("20060102")] += cv.N
		if s.ByVillage[cv.Village] == nil {
			s.ByVillage[cv.Village] = Slice{}
		}
		s.ByVillage[cv.Village]["converted"] += cv.N
		if s.ByChannel[cv.Channel] == nil {
			s.ByChannel[cv.Channel] = Slice{}
		}
		s.ByChannel[cv.Channel]["converted"] += cv.N
	}
	return s, nil
}

// waiting reads from the outbox what is queued but not due yet. The engine defers a delivery
// to its window with no error code, and a retry carries the code of its transient failure.
func (c *Counters) waiting(ctx context.Context, campaign int64) (Waiting, error) {
	var r struct {
		Window int64        `db:"win"`
		Retry  int64        `db:"retry"`
		Until  sql.NullTime `db:"until"`
	}
	if err := c.db.GetContext(ctx, &r, Queries.Get("outbox-waiting"), campaign, c.now().UTC()); err != nil {
		return Waiting{}, database.Map(err)
	}
	w := Waiting{ForWindow: r.Window, ForRetry: r.Retry}
	if r.Until.Valid {
		u := r.Until.Time.In(c.loc)
		w.Until = &u
	}
	return w, nil
}

// Cancelled counts the queued deliveries a cancel skipped, per village, as it committed.
func (c *Counters) Cancelled(ctx context.Context, campaign int64, byVillage map[string]int) error {
	if len(byVillage) == 0 {
		return nil
	}
	k := c.key(campaign)
	pipe := c.rdb.Pipeline()
	for v, n := range byVillage {
		pipe.HIncrBy(ctx, k, "status:queued", -int64(n))
		pipe.HIncrBy(ctx, k, "status:skipped", int64(n))
		pipe.HIncrBy(ctx, k, "skip:cancelled", int64(n))
		pipe.HIncrBy(ctx, k, "vil:"+v+":skipped", int64(n))
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Forget drops a campaign's counters, so that the next Stats rebuilds them from the outbox.
func (c *Counters) Forget(ctx context.Context, campaign int64) {
	c.rdb.HDel(ctx, c.key(campaign), "built")
}

// AddTargeted counts newly snapshotted deliveries (queued) per village.
func (c *Counters) AddTargeted(ctx context.Context, campaign int64, byVillage map[string]int) error {
	if len(byVillage) == 0 {
		return nil
	}
	k := c.key(campaign)
	pipe := c.rdb.Pipeline()
	for v, n := range byVillage {
		pipe.HIncrBy(ctx, k, "targeted", int64(n))
		pipe.HIncrBy(ctx, k, "status:queued", int64(n))
		pipe.HIncrBy(ctx, k, "vil:"+v+":targeted", int64(n))
	}
	_, err := pipe.Exec(ctx)
	return err
}
