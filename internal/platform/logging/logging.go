// Package logging builds canbao's JSON slog logger. Every message and string attribute passes
// through pii.Redact, so an ID number or phone that slips into a log line is masked before it is
// written.
package logging

import (
	"context"
	"io"
	"log/slog"

	"github.com/canbao/canbao/internal/pii"
)

// New returns a JSON logger writing to w at the given level.
func New(w io.Writer, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	return slog.New(&redactingHandler{next: h})
}

// redactAttr masks personal data in every attribute value, including nested groups' leaves.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(pii.Redact(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(pii.Redact(err.Error()))
		} else if s, ok := a.Value.Any().(interface{ String() string }); ok {
			a.Value = slog.StringValue(pii.Redact(s.String()))
		}
	}
	return a
}

// redactingHandler masks the message itself, which ReplaceAttr does not see.
type redactingHandler struct{ next slog.Handler }

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	if pii.ContainsPII(r.Message) {
		nr := slog.NewRecord(r.Time, r.Level, pii.Redact(r.Message), r.PC)
		r.Attrs(func(a slog.Attr) bool { nr.AddAttrs(a); return true })
		r = nr
	}
	return h.next.Handle(ctx, r)
}

func (h *redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &redactingHandler{next: h.next.WithAttrs(as)}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name)}
}
