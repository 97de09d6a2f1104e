// Package channels holds the ways a reminder reaches a resident: a WeChat subscribe message
// (while the resident has an unspent consent), an SMS, a door-to-door visit task for the
// village's volunteers, and a log line for development.
package channels

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/campaigns"
	"github.com/canbao/canbao/campaigns/channels/sms"
	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/visit"
	"github.com/canbao/canbao/internal/wechat"
)

// Recipient is one resident as a channel needs them. Phone and OpenID are empty when unknown.
type Recipient struct {
	DeliveryID int64
	ResidentID int64
	Village    string
	AccountID  int64
	OpenID     string
	Phone      string
	Vars       campaigns.Vars
}

// ErrPermanent wraps errors that will not go away by retrying (a refused consent, a bad
// template): the engine moves on to the next channel of the chain.
var ErrPermanent = errors.New("permanent")

// permanent marks err as permanent.
func permanent(err error) error { return errors.Join(ErrPermanent, err) }

// IsPermanent reports whether a send error should not be retried.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// ErrOutcomeUnknown wraps errors after which the provider may or may not have the message: the
// answer timed out. Resending could reach the resident twice, so the engine records the
// delivery as unknown (as it does a send whose lease expired) and staff may retry it. A timeout
// that came before anything was sent (dialling) is counted too: the client cannot tell them
// apart, and a message held back is better than one sent twice.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// IsOutcomeUnknown reports whether a send may have reached the resident although it failed.
func IsOutcomeUnknown(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }

// timedOut reports whether err is, or wraps, a timeout.
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// classify marks a provider error as permanent or of unknown outcome for the engine.
func classify(err error, permanentErr bool) error {
	switch {
	case err == nil:
		return nil
	case permanentErr:
		return permanent(err)
	case timedOut(err):
		return errors.Join(ErrOutcomeUnknown, err)
	}
	return err
}

// Channel sends one message.
type Channel interface {
	// Send delivers to r and returns the provider's message id.
	Send(ctx context.Context, c *campaigns.Campaign, r Recipient) (string, error)
}

// Log writes the rendered message to the log (development).
type Log struct{ Log *slog.Logger }

// Send logs the delivery with the rendered text; the name in it is masked.
func (l Log) Send(_ context.Context, c *campaigns.Campaign, r Recipient) (string, error) {
	v := r.Vars
	v.Name = pii.MaskName(v.Name)
	l.Log.Info("campaign message", "campaign", c.ID, "delivery", r.DeliveryID, "text", campaigns.Render(c.Spec.Template.Text, v))
	return "log-" + strconv.FormatInt(r.DeliveryID, 10), nil
}

// VisitTask puts the person on their village volunteers' task list.
type VisitTask struct {
	DB  *sqlx.DB
	Loc *time.Location
}

// Send creates an open visit task, unless the person already has one.
func (v VisitTask) Send(ctx context.Context, c *campaigns.Campaign, r Recipient) (string, error) {
	now := database.Now()
	due := time.Date(now.In(v.Loc).Year(), now.In(v.Loc).Month(), now.In(v.Loc).Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7)
	id, err := visit.OpenCampaignTask(ctx, v.DB, visit.CampaignTask{ResidentID: r.ResidentID, Village: r.Village, CampaignID: c.ID,
		Note: truncate(campaigns.Render(c.Spec.Template.Text, r.Vars), 200), DueOn: due}, now)
	if err != nil {
		return "", err
	}
	return "task-" + strconv.FormatInt(id, 10), nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// WeChatSender is the part of the WeChat client the channel uses.
type WeChatSender interface {
	SendSubscribe(ctx context.Context, m wechat.SubscribeMessage) (string, error)
}

// WeChat sends a subscribe message. The engine spends the resident's consent before calling.
type WeChat struct{ Client WeChatSender }

// Send sends the campaign's subscribe message.
func (w WeChat) Send(ctx context.Context, c *campaigns.Campaign, r Recipient) (string, error) {
	part := c.Spec.Template.WeChat
	id, err := w.Client.SendSubscribe(ctx, wechat.SubscribeMessage{ToUser: r.OpenID, TemplateID: part.TemplateID, Page: part.Page, Data: part.Render(r.Vars)})
	if err != nil {
		return "", classify(err, wechat.IsPermanent(err))
	}
	return id, nil
}

// SMSSender is the part of the SMS client the channel uses.
type SMSSender interface {
	Send(ctx context.Context, m sms.Message) (string, error)
}

// SMS sends the campaign's SMS.
type SMS struct{ Client SMSSender }

// Send sends one SMS; the delivery id goes as OutId.
func (s SMS) Send(ctx context.Context, c *campaigns.Campaign, r Recipient) (string, error) {
	part := c.Spec.Template.SMS
	id, err := s.Client.Send(ctx, sms.Message{Phone: r.Phone, SignName: part.SignName, TemplateCode: part.TemplateCode,
		Params: part.Render(r.Vars), OutID: strconv.FormatInt(r.DeliveryID, 10)})
	if err != nil {
		return "", classify(err, sms.IsPermanent(err))
	}
	return id, nil
}

// ErrorCode is a short, log-safe code of a send error.
func ErrorCode(err error) string {
	var we *wechat.APIError
	if errors.As(err, &we) {
		return "wechat:" + strconv.Itoa(we.Code)
	}
	var se *sms.APIError
	if errors.As(err, &se) {
		return "sms:" + se.Code
	}
	if timedOut(err) { // context.DeadlineExceeded included: it reports Timeout() true
		return "timeout"
	}
	return "error"
}
