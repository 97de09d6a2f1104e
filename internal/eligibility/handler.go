package eligibility

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
	"github.com/canbao/canbao/internal/rules"
)

// Handler serves POST /api/v1/eligibility. It computes only and stores nothing.
type Handler struct {
	book *rules.Book
	loc  *time.Location
	now  func() time.Time
}

// NewHandler wires the rule to its configuration and the business time zone.
func NewHandler(book *rules.Book, loc *time.Location) *Handler {
	return &Handler{book: book, loc: loc, now: time.Now}
}

// Routes registers the endpoint for any signed-in caller.
func (h *Handler) Routes(r *auth.Router) {
	r.Handle(http.MethodPost, "/api/v1/eligibility", auth.Authenticated(), web.H(h.check))
}

type request struct {
	IDNumber         *string `json:"id_number"`
	Gender           *string `json:"gender"`
	BirthDate        *string `json:"birth_date"`
	Employed         *bool   `json:"employed"`
	LandExpropriated *bool   `json:"land_expropriated"`
	AsOf             *string `json:"as_of"`
}

func (h *Handler) check(c *gin.Context) error {
	var req request
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	today := web.Today(h.now(), h.loc)
	asOf := today
	if req.AsOf != nil {
		d, err := web.ParseDate(*req.AsOf, "as_of")
		if err != nil {
			return err
		}
		asOf = d
	}
	p, err := PersonFrom(req.IDNumber, req.Gender, req.BirthDate, req.Employed, req.LandExpropriated, today)
	if err != nil {
		return err
	}
	y, err := h.book.For(asOf.Year())
	if err != nil {
		return errs.Field(errs.InvalidInput, "as_of", "该年度暂无参保政策配置")
	}
	res, err := Evaluate(y, p, asOf)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, res)
	return nil
}

// PersonFrom validates the person's fields: either an ID number or gender and birth date.
func PersonFrom(idNumber, gender, birthDate *string, employed, land *bool, today time.Time) (Person, error) {
	var p Person
	switch {
	case idNumber != nil && (gender != nil || birthDate != nil):
		return p, errs.Field(errs.InvalidInput, "id_number", "请填写身份证号码，或填写性别和出生日期，二者选其一")
	case idNumber != nil:
		id, err := ParseID(*idNumber, today)
		if err != nil {
			return p, err
		}
		p.Gender, p.Birth = id.Gender, id.Birth
	case gender == nil:
		return p, errs.Field(errs.InvalidInput, "gender", "请填写身份证号码，或填写性别和出生日期")
	case birthDate == nil:
		return p, errs.Field(errs.InvalidInput, "birth_date", "请填写出生日期")
	default:
		g := idcard.Gender(*gender)
		if g != idcard.Male && g != idcard.Female {
			return p, errs.Field(errs.InvalidInput, "gender", "性别须为 male 或 female")
		}
		b, err := web.ParseDate(*birthDate, "birth_date")
		if err != nil {
			return p, err
		}
		if b.After(today) {
			return p, errs.Field(errs.InvalidInput, "birth_date", "出生日期不能晚于今天")
		}
		p.Gender, p.Birth = g, b
	}
	if employed == nil {
		return p, errs.Field(errs.InvalidInput, "employed", "请说明目前是否就业")
	}
	if land == nil {
		return p, errs.Field(errs.InvalidInput, "land_expropriated", "请说明是否为被征地农民")
	}
	p.Employed, p.LandExpropriated = *employed, *land
	return p, nil
}

// ParseID validates an ID number as a 400 about the field id_number.
func ParseID(s string, today time.Time) (idcard.ID, error) {
	id, err := idcard.Parse(s, today)
	if err != nil {
		msg := "身份证号码不正确"
		if ie, ok := err.(*idcard.Error); ok {
			msg = ie.Message()
		}
		return id, errs.Field(errs.IDNumberInvalid, "id_number", msg)
	}
	return id, nil
}
