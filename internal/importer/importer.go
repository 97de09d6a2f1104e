// Package importer loads the universal-registration roster from CSV or XLSX files.
package importer

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/pii"
)

// UploadRoute is the multipart upload endpoint, which has its own body limit.
const UploadRoute = "/api/v1/admin/imports"

// Importer imports roster files.
type Importer struct {
	db  *sqlx.DB
	kr  *pii.Keyring
	loc *time.Location
	log *slog.Logger
}

// New wires the importer.
func New(db *sqlx.DB, kr *pii.Keyring, loc *time.Location, log *slog.Logger) *Importer {
	return &Importer{db: db, kr: kr, loc: loc, log: log}
}

// Routes registers the import endpoints.
func (im *Importer) Routes(r *auth.Router, a *audit.Log, idem gin.HandlerFunc) {}
