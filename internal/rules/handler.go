package rules

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// Tiers serves the resident-pension tiers of the yearly configuration.
type Tiers struct {
	b   *Book
	loc *time.Location
}

// NewTiers wires the tiers endpoint; loc gives the current year.
func NewTiers(b *Book, loc *time.Location) *Tiers { return &Tiers{b: b, loc: loc} }

// Routes registers GET /api/v1/tiers: the resident-pension tiers of a year (default the
// current year in loc), from the yearly configuration.
func (t *Tiers) Routes(r *auth.Router) {
	b, loc := t.b, t.loc
	var rendered sync.Map // year → the JSON answer
	r.Handle(http.MethodGet, "/api/v1/tiers", auth.PublicCacheable(), web.H(func(c *gin.Context) error {
		year := time.Now().In(loc).Year()
		if s := c.Query("year"); s != "" {
			y, err := strconv.Atoi(s)
			if err != nil || y < 2000 || y > 2100 {
				return errs.Field(errs.InvalidInput, "year", "年度须为 2000 到 2100 之间的整数")
			}
			year = y
		}
		y, err := b.For(year)
		if err != nil {
			return errs.New(errs.NotFound, "该年度暂无缴费档次配置")
		}
		// The book is loaded once at start-up, so a year's answer is rendered once.
		body, ok := rendered.Load(year)
		if !ok {
			b, err := json.Marshal(gin.H{"year": year, "tiers": y.Tiers})
			if err != nil {
				return err
			}
			body, _ = rendered.LoadOrStore(year, b)
		}
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/json; charset=utf-8", body.([]byte))
		return nil
	}))
}
