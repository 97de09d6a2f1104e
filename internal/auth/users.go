package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"

	"github.com/canbao/canbao/internal/audit"
	"github.com/canbao/canbao/internal/platform/database"
	"github.com/canbao/canbao/internal/platform/errs"
	"github.com/canbao/canbao/internal/platform/web"
)

// UserAdmin lets admins manage staff accounts. Every change is audited in the same
// transaction and revokes the user's tokens when it changes what they may do.
type UserAdmin struct {
	db       *sqlx.DB
	subjects *Subjects
	audit    *audit.Log
	villages Villages
}

// NewUserAdmin wires user management; villages checks the village of a village-bound role.
func NewUserAdmin(db *sqlx.DB, s *Subjects, a *audit.Log, villages Villages) *UserAdmin {
	return &UserAdmin{db: db, subjects: s, audit: a, villages: villages}
}

// Routes registers the admin user endpoints.
func (u *UserAdmin) Routes(r *Router) {
	admin := Allow(RoleAdmin)
	r.Handle(http.MethodGet, "/api/v1/admin/users", admin, web.H(u.list))
	r.Handle(http.MethodPost, "/api/v1/admin/users", admin, r.Idempotent(), web.H(u.create))
	r.Handle(http.MethodPatch, "/api/v1/admin/users/:id", admin, web.H(u.update))
	r.Handle(http.MethodPost, "/api/v1/admin/users/:id/password", admin, web.H(u.setPassword))
}

// StaffUserView is a staff account as the console shows it.
type StaffUserView struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	Role        Role      `json:"role"`
	VillageCode *string   `json:"village_code"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
}

func staffView(s StaffUser) StaffUserView {
	v := StaffUserView{ID: s.ID, Username: s.Username, Role: s.Role, Disabled: s.Disabled, CreatedAt: s.CreatedAt}
	if s.VillageCode.Valid {
		c := s.VillageCode.String
		v.VillageCode = &c
	}
	return v
}

// PathID reads a positive integer id from the path; anything else is 404.
func PathID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.ErrNotFoundPublic
	}
	return id, nil
}

func (u *UserAdmin) list(c *gin.Context) error {
	page, err := web.ParsePage(c)
	if err != nil {
		return err
	}
	role := c.Query("role")
	if role != "" && !Role(role).IsStaff() {
		return errs.Field(errs.RoleInvalid, "role", "角色不正确")
	}
	village := c.Query("village")
	if err := CheckVillageCode(village); err != nil {
		return err
	}
	count, q, args := staffListSQL(role, village)
	ctx := c.Request.Context()
	var total int
	if err := u.db.GetContext(ctx, &total, count, args...); err != nil {
		return database.Map(err)
	}
	var rows []StaffUser
	if err := u.db.SelectContext(ctx, &rows, q, append(args, page.Size, page.Offset())...); err != nil {
		return database.Map(err)
	}
	items := make([]StaffUserView, len(rows))
	for i, r := range rows {
		items[i] = staffView(r)
	}
	c.JSON(http.StatusOK, web.NewList(items, total))
	return nil
}

type createUserRequest struct {
	Username    string  `json:"username"`
	Password    string  `json:"password"`
	Role        Role    `json:"role"`
	VillageCode *string `json:"village_code"`
}

func (u *UserAdmin) create(c *gin.Context) error {
	var req createUserRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	var out StaffUser
	err := database.InTx(ctx, u.db, func(tx *sqlx.Tx) error {
		id, err := CreateStaffUser(ctx, tx, u.villages, NewStaffUser{
			Username: strings.ToLower(strings.TrimSpace(req.Username)), Password: req.Password,
			Role: req.Role, VillageCode: deref(req.VillageCode),
		})
		if err != nil {
			return err
		}
		if err := u.audit.RecordTx(ctx, tx, AuditContext(c).Event("user.create", "staff_user", id, audit.Success, "role="+string(req.Role))); err != nil {
			return err
		}
		out, err = GetStaffUser(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, staffView(out))
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// updateUserRequest distinguishes "village_code": null (clear) from absent (keep).
type updateUserRequest struct {
	Role        *Role           `json:"role"`
	VillageCode json.RawMessage `json:"village_code"`
	Disabled    *bool           `json:"disabled"`
}

func (u *UserAdmin) update(c *gin.Context) error {
	id, err := PathID(c)
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	if req.Role == nil && req.VillageCode == nil && req.Disabled == nil {
		return errs.New(errs.InvalidInput, "请至少修改一项：角色、所属村（居）或停用状态")
	}
	me := MustPrincipal(c)
	if id == me.ID && (req.Disabled != nil && *req.Disabled || req.Role != nil && *req.Role != RoleAdmin) {
		return errs.New(errs.CannotChangeSelf, "不能停用自己的账号或降低自己的角色")
	}
	ctx := c.Request.Context()
	var out StaffUser
	err = database.InTx(ctx, u.db, func(tx *sqlx.Tx) error {
		cur, err := lockStaffUser(ctx, tx, id)
		if err != nil {
			return err
		}
		role, village, disabled := cur.Role, cur.VillageCode.String, cur.Disabled
		if req.Role != nil {
			if !req.Role.IsStaff() {
				return errs.Field(errs.RoleInvalid, "role", "角色须为 volunteer、village_admin、staff 或 admin")
			}
			role = *req.Role
		}
		if req.VillageCode != nil {
			var v *string
			if err := json.Unmarshal(req.VillageCode, &v); err != nil {
				return errs.Field(errs.InvalidInput, "village_code", "所属村（居）格式不正确")
			}
			village = deref(v)
		} else if req.Role != nil && !role.VillageBound() {
			village = "" // promoting to a town-wide role drops the village
		}
		if req.Disabled != nil {
			disabled = *req.Disabled
		}
		if err := checkVillage(ctx, u.villages, role, village); err != nil {
			return err
		}
		var vv any
		if village != "" {
			vv = village
		}
		if _, err := tx.ExecContext(ctx, Queries.Get("staff-update-access"), role, vv, disabled, database.Now(), id); err != nil {
			return database.Map(err)
		}
		detail := "role=" + string(role) + " village=" + village + " disabled=" + strconv.FormatBool(disabled)
		if err := u.audit.RecordTx(ctx, tx, AuditContext(c).Event("user.update", "staff_user", id, audit.Success, detail)); err != nil {
			return err
		}
		out, err = GetStaffUser(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	if err := u.subjects.Invalidate(ctx, KindStaff, id); err != nil {
		return err
	}
	c.JSON(http.StatusOK, staffView(out))
	return nil
}

func lockStaffUser(ctx context.Context, tx *sqlx.Tx, id int64) (StaffUser, error) {
	var u StaffUser
	err := tx.GetContext(ctx, &u, Queries.Get("staff-lock"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return u, errs.ErrNotFoundPublic
	}
	return u, database.Map(err)
}

func checkVillage(ctx context.Context, villages Villages, role Role, village string) error {
	if !role.VillageBound() {
		if village != "" {
			return errs.Field(errs.InvalidInput, "village_code", "镇级角色不绑定村（居）")
		}
		return nil
	}
	if village == "" {
		return errs.Field(errs.InvalidInput, "village_code", "村协管员和村居经办须指定所属村（居）")
	}
	known, err := villages.Exists(ctx, village)
	if err != nil {
		return err
	}
	if !known {
		return errs.Field(errs.VillageUnknown, "village_code", "所属村（居）不存在")
	}
	return nil
}

type passwordRequest struct {
	Password string `json:"password"`
}

func (u *UserAdmin) setPassword(c *gin.Context) error {
	id, err := PathID(c)
	if err != nil {
		return err
	}
	var req passwordRequest
	if err := web.Decode(c, &req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	err = database.InTx(ctx, u.db, func(tx *sqlx.Tx) error {
		cur, err := lockStaffUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := CheckPasswordPolicy(cur.Username, req.Password); err != nil {
			return err
		}
		hash, err := HashPassword(req.Password)
		if err != nil {
			return err
		}
		now := database.Now()
		if _, err := tx.ExecContext(ctx, Queries.Get("staff-set-password"), hash, now, now, id); err != nil {
			return database.Map(err)
		}
		return u.audit.RecordTx(ctx, tx, AuditContext(c).Event("user.password", "staff_user", id, audit.Success, ""))
	})
	if err != nil {
		return err
	}
	if err := u.subjects.Invalidate(ctx, KindStaff, id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
