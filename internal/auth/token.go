package auth

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Audiences: residents' and staff's tokens are not interchangeable.
const (
	AudienceResident = "canbao-resident"
	AudienceStaff    = "canbao-staff"
)

// Leeway is the clock skew tolerated on exp/nbf/iat.
const Leeway = 30 * time.Second

// signingMethod is the only algorithm issued and accepted.
var signingMethod = jwt.SigningMethodHS256

// Claims are what an access token carries: ids and role, never personal data or an openid.
type Claims struct {
	Kind    Kind   `json:"knd"`
	Role    Role   `json:"rol"`
	Village string `json:"vil,omitempty"`
	Version int    `json:"ver"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies access tokens. It holds the app's one parser.
type Tokens struct {
	secret      []byte
	issuer      string
	residentTTL time.Duration
	staffTTL    time.Duration
	parser      *jwt.Parser
	now         func() time.Time
}

// NewTokens builds the issuer/verifier. The secret must be at least 32 bytes.
func NewTokens(secret, issuer string, residentTTL, staffTTL time.Duration) (*Tokens, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: JWT secret must be at least 32 bytes")
	}
	t := &Tokens{secret: []byte(secret), issuer: issuer, residentTTL: residentTTL, staffTTL: staffTTL, now: time.Now}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

// TTL is the lifetime of an access token of that kind.
func (t *Tokens) TTL(k Kind) time.Duration {
	if k == KindResident {
		return t.residentTTL
	}
	return t.staffTTL
}

// Issue signs an access token for p.
func (t *Tokens) Issue(p Principal) (string, time.Duration, error) {
	aud := AudienceStaff
	if p.Kind == KindResident {
		aud = AudienceResident
	}
	now := t.now()
	ttl := t.TTL(p.Kind)
	claims := Claims{
		Kind: p.Kind, Role: p.Role, Village: p.Village, Version: p.Version,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   strconv.FormatInt(p.ID, 10),
			Audience:  jwt.ClaimStrings{aud},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        uuid.NewString(),
		},
	}
	s, err := jwt.NewWithClaims(signingMethod, claims).SignedString(t.secret)
	if err != nil {
		return "", 0, fmt.Errorf("auth: sign: %w", err)
	}
	return s, ttl, nil
}

// ErrBadToken is returned for any token that does not verify; the reason is for logs only.
var ErrBadToken = errors.New("auth: invalid token")

// Parse verifies a token (algorithm, signature, issuer, expiry, audience) and returns the
// principal it names. Audience and kind must agree: a staff token cannot pose as a resident's.
func (t *Tokens) Parse(token string) (*Principal, error) {
	var c Claims
	if _, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil }); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	var wantAud string
	switch c.Kind {
	case KindResident:
		wantAud = AudienceResident
		if c.Role != RoleResident {
			return nil, fmt.Errorf("%w: resident token with role %q", ErrBadToken, c.Role)
		}
	case KindStaff:
		wantAud = AudienceStaff
		if !c.Role.IsStaff() {
			return nil, fmt.Errorf("%w: staff token with role %q", ErrBadToken, c.Role)
		}
	default:
		return nil, fmt.Errorf("%w: unknown kind", ErrBadToken)
	}
	if len(c.Audience) != 1 || c.Audience[0] != wantAud {
		return nil, fmt.Errorf("%w: audience", ErrBadToken)
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("%w: subject", ErrBadToken)
	}
	return &Principal{Kind: c.Kind, ID: id, Role: c.Role, Village: c.Village, Version: c.Version}, nil
}
