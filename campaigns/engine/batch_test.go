package engine_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels"
	"github.com/canbao/canbao/campaigns/channels/sms"
	"github.com/canbao/canbao/campaigns/engine"
)

// countingChannel counts the sends per delivery of a local channel.
type countingChannel struct {
	mu    *sync.Mutex
	sends map[int64]int
	n     *atomic.Int64
}

func newCounting() countingChannel {
	return countingChannel{mu: &sync.Mutex{}, sends: map[int64]int{}, n: &atomic.Int64{}}
}

func (c countingChannel) Send(_ context.Context, _ *campaigns.Campaign, r channels.Recipient) (string, error) {
	c.mu.Lock()
	c.sends[r.DeliveryID]++
	c.mu.Unlock()
	c.n.Add(1)
	return "log-" + itoa(r.DeliveryID), nil
}

// idle starts an engine with no workers and no reconciler loop: it snapshots and feeds, and
// the test runs the batches.
func (h *harness) idle(cfg engine.Config, with ...func(*engine.Deps)) *engine.Engine {
	cfg.Workers = 0
	e := h.newEngine(cfg, with...)
	engine.ReconcileOnDemand(e)
	h.run(e)
	return e
}

// snapshotted waits for a campaign's n deliveries and returns their ids.
func (h *harness) snapshotted(id int64, n int) []int64 {
	h.t.Helper()
	h.waitFor("the snapshot", 15*time.Second, func() bool {
		return h.count(id, "") == n && h.env.Count(`SELECT COUNT(*) FROM campaign_runs WHERE campaign_id = ? AND status = 'dispatching'`, id) == 1
	})
	var ids []int64
	if err := h.env.DB.Select(&ids, `SELECT id FROM deliveries WHERE campaign_id = ? ORDER BY id`, id); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// TestBatchSendsOnlyWhatItClaimed: two instances take overlapping batches; the second loaded
// its batch while all of it was queued, and the first claimed (and sent) half of it before
// the second's claim. The second sends only the rest: every delivery goes out once, and the
// counters agree with the outbox.
func TestBatchSendsOnlyWhatItClaimed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	v := h.village("b1")
	h.people(10, personSpec{Village: v})
	sendsA, sendsB := newCounting(), newCounting()
	a := h.idle(testConfig(), func(d *engine.Deps) { d.Channels[campaigns.ChannelLog] = sendsA })
	b := h.idle(testConfig(), func(d *engine.Deps) { d.Channels[campaigns.ChannelLog] = sendsB })
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}, Segment: map[string]any{"villages": []string{v}}})
	ids := h.snapshotted(id, 10)
	ctx := context.Background()
	var once sync.Once
	engine.OnClaim(b, func() {
		once.Do(func() {
			if err := engine.ProcessBatch(ctx, a, ids[:5]); err != nil {
				t.Errorf("instance a: %v", err)
			}
		})
	})
	if err := engine.ProcessBatch(ctx, b, ids); err != nil {
		t.Fatal(err)
	}
	if na, nb := sendsA.n.Load(), sendsB.n.Load(); na != 5 || nb != 5 {
		t.Errorf("instance a sent %d, instance b %d; want 5 and 5", na, nb)
	}
	for _, d := range ids {
		if n := sendsA.sends[d] + sendsB.sends[d]; n != 1 {
			t.Errorf("delivery %d sent %d times", d, n)
		}
	}
	if n := h.count(id, "sent"); n != 10 {
		t.Errorf("%d sent in the outbox, want 10\n%s", n, h.describe())
	}
	h.checkStats(id)
}

// TestBatchWithMixedOutcomes: one batch of two campaigns (log and SMS) sends, fails, retries,
// loses an answer and skips; the live counters equal the outbox.
func TestBatchWithMixedOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	vs, vl := h.village("m1"), h.village("m2")
	ok := h.people(2, personSpec{Phone: true, Village: vs})
	bad := h.person(personSpec{Phone: true, Village: vs})
	busy := h.person(personSpec{Phone: true, Village: vs})
	out := h.person(personSpec{Phone: true, Village: vs})
	h.person(personSpec{Village: vs}) // no phone: no_contact
	h.people(3, personSpec{Village: vl})
	h.sms.FailPhone(bad.Phone, "isv.MOBILE_NUMBER_ILLEGAL")
	h.sms.FailPhone(busy.Phone, "isp.SYSTEM_ERROR")
	h.sms.LoseAnswers(1)
	cfg := testConfig()
	cfg.RetryBackoff = time.Hour
	e := h.idle(cfg, func(d *engine.Deps) {
		d.Channels[campaigns.ChannelSMS] = channels.SMS{Client: sms.NewClient(sms.Config{APIBase: h.sms.URL, AccessKeyID: smsKeyID,
			AccessKeySecret: smsSecret, Timeout: 300 * time.Millisecond}, h.log)}
	})
	s := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelSMS}, Segment: map[string]any{"villages": []string{vs}}})
	l := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}, Segment: map[string]any{"villages": []string{vl}}})
	ids := append(h.snapshotted(s, 6), h.snapshotted(l, 3)...)
	h.env.Exec(`UPDATE residents SET opted_out = 1 WHERE id = ?`, out.ID)
	if err := engine.ProcessBatch(context.Background(), e, ids); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"sent": 1, "unknown": 1, "failed": 1, "queued": 1, "skipped": 2}
	for st, n := range want {
		if got := h.count(s, st); got != n {
			t.Errorf("SMS campaign: %d %s, want %d\n%s", got, st, n, h.describe())
		}
	}
	if n := h.count(l, "sent"); n != 3 {
		t.Errorf("log campaign: %d sent, want 3", n)
	}
	if d := h.delivery(s, busy); d.Status != "queued" || d.Attempts != 1 || d.Code != "sms:isp.SYSTEM_ERROR" {
		t.Errorf("the transient failure: %+v", d)
	}
	if n := h.sms.SentTo(ok[0].Phone) + h.sms.SentTo(ok[1].Phone); n != 2 {
		t.Errorf("%d SMS to the two reachable people, want 2 (one answer lost)", n)
	}
	h.checkStats(s)
	h.checkStats(l)
}

// TestChannelLimitAcrossInstances: a channel's limit is shared by every instance and every
// campaign: at one message a minute, two instances asking for 50 tokens each at once get one
// between them, and another campaign none; the campaign's tokens the channel refused are given
// back to it. A campaign's own rate holds across instances as well.
func TestChannelLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := testConfig()
	cfg.ChannelRates = map[string]int{campaigns.ChannelSMS: 1}
	a, b := h.newEngine(cfg), h.newEngine(cfg)
	ctx := context.Background()
	c := campaigns.Campaign{ID: 900001}
	c.Spec.RatePerMinute = 6000 // a burst of 100
	var got [2]int
	var wg sync.WaitGroup
	for i, e := range []*engine.Engine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = engine.TakeTokens(ctx, e, c, campaigns.ChannelSMS, 50)
		}()
	}
	wg.Wait()
	if got[0]+got[1] != 1 {
		t.Errorf("the two instances got %d and %d SMS tokens, want 1 between them", got[0], got[1])
	}
	other := campaigns.Campaign{ID: 900002}
	if n := engine.TakeTokens(ctx, b, other, campaigns.ChannelSMS, 10); n != 0 {
		t.Errorf("another campaign got %d SMS tokens", n)
	}
	// The log channel has no limit: what is left of the campaign's burst of 100 is 99.
	if n := engine.TakeTokens(ctx, a, c, campaigns.ChannelLog, 200); n < 99 || n > 100 {
		t.Errorf("the campaign had %d tokens left, want 99: the ones the channel refused were not given back", n)
	}
	// A campaign's own rate across instances: one a minute, one token between them.
	slow := campaigns.Campaign{ID: 900003}
	slow.Spec.RatePerMinute = 1
	if n := engine.TakeTokens(ctx, a, slow, campaigns.ChannelLog, 5) + engine.TakeTokens(ctx, b, slow, campaigns.ChannelLog, 5); n != 1 {
		t.Errorf("a campaign at one a minute got %d tokens from two instances", n)
	}
}

// TestChannelLimitHoldsInBatches: two instances work batches of one campaign through a
// channel limited to one message a minute: one delivery is sent between them, the rest stays
// queued (unclaimed, fed again later), and the counters agree with the outbox.
func TestChannelLimitHoldsInBatches(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	v := h.village("c1")
	h.people(6, personSpec{Village: v})
	cfg := testConfig()
	cfg.ChannelRates = map[string]int{campaigns.ChannelLog: 1}
	a, b := h.idle(cfg), h.idle(cfg)
	id := h.scheduled(campaignSpec{Channels: []string{campaigns.ChannelLog}, Segment: map[string]any{"villages": []string{v}}})
	ids := h.snapshotted(id, 6)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, e := range []*engine.Engine{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := engine.ProcessBatch(ctx, e, ids[3*i:3*i+3]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, q := h.count(id, "sent"), h.count(id, "queued"); n != 1 || q != 5 {
		t.Errorf("%d sent and %d queued, want 1 and 5\n%s", n, q, h.describe())
	}
	h.checkStats(id)
}

// TestRefusedTokensGoBackToAFullBucket: when the channel refuses every token a campaign took,
// the campaign's bucket is full again. (Given back with redis_rate's negative AllowN, a bucket
// that would end full was left as it was: the give-back was lost whenever it was the last one.)
func TestRefusedTokensGoBackToAFullBucket(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := testConfig()
	cfg.ChannelRates = map[string]int{campaigns.ChannelSMS: 1}
	e := h.newEngine(cfg)
	ctx := context.Background()
	if n := engine.TakeTokens(ctx, e, campaigns.Campaign{ID: 900011}, campaigns.ChannelSMS, 1); n != 1 {
		t.Fatalf("the channel's one token: got %d", n)
	}
	c := campaigns.Campaign{ID: 900012}
	c.Spec.RatePerMinute = 6000 // a burst of 100
	if n := engine.TakeTokens(ctx, e, c, campaigns.ChannelSMS, 50); n != 0 {
		t.Fatalf("the channel is spent, yet the campaign got %d SMS tokens", n)
	}
	if n := engine.TakeTokens(ctx, e, c, campaigns.ChannelLog, 200); n != 100 {
		t.Errorf("the campaign had %d tokens left, want its whole burst of 100", n)
	}
}
