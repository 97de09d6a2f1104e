// Package audit writes the append-only audit trail: who did what to which object, from where,
// with what result. Rows carry ids, never personal data. If the audit write fails, the action
// it records fails too (callers write it in the action's transaction).
package audit

import (
	"context"
	"embed"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/pii"
	"github.com/canbao/canbao/internal/platform/database"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("audit", queryFS, "queries.sql")

// Results of an audited action.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Event is one audit row.
type Event struct {
	ActorKind  string
	ActorID    int64
	Role       string
	IP         string
	RequestID  string
	Action     string
	ObjectType string
	ObjectID   string
	Result     string
	Detail     string
}

// Context is who and where, taken from the request, to which each event adds what.
type Context struct {
	ActorKind string
	ActorID   int64
	Role      string
	IP        string
	RequestID string
}

// Event builds an event in this context.
func (c Context) Event(action, objectType string, objectID int64, result, detail string) Event {
	oid := ""
	if objectID != 0 {
		oid = strconv.FormatInt(objectID, 10)
	}
	return Event{ActorKind: c.ActorKind, ActorID: c.ActorID, Role: c.Role, IP: c.IP, RequestID: c.RequestID,
		Action: action, ObjectType: objectType, ObjectID: oid, Result: result, Detail: detail}
}

// Keys under which the web layer leaves the actor for FromGin.
const (
	ActorKindKey = "canbao.audit.actor_kind"
	ActorIDKey   = "canbao.audit.actor_id"
	ActorRoleKey = "canbao.audit.actor_role"
	RequestIDKey = "canbao.request_id"
)

// FromGin reads the audit context of a request (actor set by authentication, if any).
func FromGin(c *gin.Context, actorKind string, actorID int64, role string) Context {
	kind := actorKind
	if kind == "" {
		kind = "anonymous"
	}
	return Context{ActorKind: kind, ActorID: actorID, Role: role, IP: c.ClientIP(), RequestID: c.GetString(RequestIDKey)}
}

// System is the context of actions taken by canbao itself or its command line.
func System(what string) Context { return Context{ActorKind: "system", Role: what} }

// Log writes audit rows.
type Log struct{ db *sqlx.DB }

// New wires the audit log to the database.
func New(db *sqlx.DB) *Log { return &Log{db: db} }

// DetailMaxChars is the size of audit_log.detail: VARCHAR(500) in utf8mb4 counts characters.
const DetailMaxChars = 500

// Truncate makes s valid UTF-8 and cuts it to at most max characters, never inside one.
func Truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	n := 0
	for i := range s {
		if n == max {
			return s[:i]
		}
		n++
	}
	return s
}

// Record writes one event on its own.
func (l *Log) Record(ctx context.Context, e Event) error { return l.RecordTx(ctx, l.db, e) }

// RecordTx writes one event inside the caller's transaction, so the action and its record
// commit or fail together.
func (l *Log) RecordTx(ctx context.Context, ext sqlx.ExecerContext, e Event) error {
	var actor any
	if e.ActorID != 0 {
		actor = e.ActorID
	}
	detail := Truncate(pii.Redact(e.Detail), DetailMaxChars)
	_, err := ext.ExecContext(ctx, Queries.Get("audit-insert"), database.Now(), e.ActorKind, actor, e.Role, e.IP, e.RequestID,
		e.Action, e.ObjectType, e.ObjectID, e.Result, detail)
	return database.Map(err)
}

// RecordManyTx writes several events in one statement inside the caller's transaction (a
// group commit's), each as RecordTx would.
func (l *Log) RecordManyTx(ctx context.Context, ext sqlx.ExecerContext, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	now := database.Now()
	args := make([]any, 0, 11*len(events))
	for _, e := range events {
		var actor any
		if e.ActorID != 0 {
			actor = e.ActorID
		}
		args = append(args, now, e.ActorKind, actor, e.Role, e.IP, e.RequestID, e.Action, e.ObjectType, e.ObjectID,
			e.Result, Truncate(pii.Redact(e.Detail), DetailMaxChars))
	}
	_, err := ext.ExecContext(ctx, database.MultiRow(Queries.Get("audit-insert"), len(events)), args...)
	return database.Map(err)
}
