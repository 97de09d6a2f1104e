// Package auth authenticates residents and staff and authorises every route: JWT access tokens
// from one parser, refresh tokens, per-user token versions that make logout and disabling take
// effect at once, staff passwords and lockout, and a router that refuses routes without a policy.
package auth

import (
	"regexp"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/canbao/canbao/internal/platform/errs"
)

// Role is what a caller may do.
type Role string

// The roles, as api/openapi.yaml names them in each operation's x-roles.
const (
	RoleResident     Role = "resident"
	RoleVolunteer    Role = "volunteer"
	RoleVillageAdmin Role = "village_admin"
	RoleStaff        Role = "staff"
	RoleAdmin        Role = "admin"
)

// AllRoles lists every role, lowest first.
var AllRoles = []Role{RoleResident, RoleVolunteer, RoleVillageAdmin, RoleStaff, RoleAdmin}

// StaffRoles are the roles of staff_users.
var StaffRoles = []Role{RoleVolunteer, RoleVillageAdmin, RoleStaff, RoleAdmin}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(AllRoles, r) }

// IsStaff reports whether r belongs to a staff user.
func (r Role) IsStaff() bool { return slices.Contains(StaffRoles, r) }

// VillageBound reports whether the role sees only its own village.
func (r Role) VillageBound() bool { return r == RoleVolunteer || r == RoleVillageAdmin }

// Kind says which table a subject lives in.
type Kind string

// Subject kinds.
const (
	KindResident Kind = "resident"
	KindStaff    Kind = "staff"
)

// Principal is the authenticated caller, taken from a verified token and the database.
type Principal struct {
	Kind    Kind
	ID      int64
	Role    Role
	Village string // set for volunteer and village_admin
	Version int
}

// SeesAllVillages reports whether the caller's scope is the whole town.
func (p *Principal) SeesAllVillages() bool { return p.Role == RoleStaff || p.Role == RoleAdmin }

// CanSeeVillage reports whether the caller may see records of village code.
func (p *Principal) CanSeeVillage(code string) bool {
	return p.SeesAllVillages() || (p.Role.VillageBound() && p.Village == code)
}

// VillageFilter resolves a list's village filter: village-bound staff see only their own
// village, and naming another one is 404 so that its records' existence does not leak.
func (p *Principal) VillageFilter(requested string) (string, error) {
	if err := CheckVillageCode(requested); err != nil {
		return "", err
	}
	if p.SeesAllVillages() {
		return requested, nil
	}
	if requested != "" && requested != p.Village {
		return "", errs.ErrNotFoundPublic
	}
	return p.Village, nil
}

const principalKey = "canbao.principal"

// FromContext returns the authenticated caller; ok is false on public routes.
func FromContext(c *gin.Context) (*Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return nil, false
	}
	p, ok := v.(*Principal)
	return p, ok
}

// MustPrincipal returns the caller on a route whose policy requires authentication.
func MustPrincipal(c *gin.Context) *Principal {
	p, ok := FromContext(c)
	if !ok {
		panic("auth: MustPrincipal on a route without authentication")
	}
	return p
}

// SubjectString is the log-safe identity of the caller ("staff:12", "resident:9", "-").
func SubjectString(c *gin.Context) string {
	p, ok := FromContext(c)
	if !ok {
		return "-"
	}
	return string(p.Kind) + ":" + itoa(p.ID)
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// villageCode is the contract's VillageCode.
var villageCode = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// CheckVillageCode refuses a village filter that cannot be a village code (an empty one means
// no filter): 400 INVALID_INPUT on the field village.
func CheckVillageCode(code string) error {
	if code != "" && !villageCode.MatchString(code) {
		return errs.Field(errs.InvalidInput, "village", "村（居）代码格式不正确，请从列表中选择")
	}
	return nil
}
