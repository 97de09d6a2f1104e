// Package village serves the villages (村/居) of the town.
package village

import (
	"context"
	"embed"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/web"
)

//go:embed queries.sql
var queryFS embed.FS

// Queries are the package's named SQL, checked against the server at start-up.
var Queries = database.RegisterQueries("village", queryFS, "queries.sql")

// Village is one village or community of the town.
type Village struct {
	Code string `db:"code" json:"code"`
	Name string `db:"name" json:"name"`
}

// Store reads villages.
type Store struct{ db *sqlx.DB }

// NewStore wires the store.
func NewStore(db *sqlx.DB) *Store { return &Store{db: db} }

// List returns every village in the annex's order.
func (s *Store) List(ctx context.Context) ([]Village, error) {
	var vs []Village
	err := s.db.SelectContext(ctx, &vs, Queries.Get("villages-list"))
	return vs, database.Map(err)
}

// Exists reports whether a village code is known.
func (s *Store) Exists(ctx context.Context, code string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, Queries.Get("village-exists"), code)
	return n > 0, database.Map(err)
}

// Routes registers GET /api/v1/villages (public: the registration form needs it).
func (s *Store) Routes(r *auth.Router) {
	r.Handle(http.MethodGet, "/api/v1/villages", auth.PublicCacheable(), web.H(func(c *gin.Context) error {
		vs, err := s.List(c.Request.Context())
		if err != nil {
			return err
		}
		c.Header("Cache-Control", "public, max-age=300")
		c.JSON(http.StatusOK, web.NewList(vs, len(vs)))
		return nil
	}))
}
