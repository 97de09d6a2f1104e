package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

func newTestTokens(t *testing.T) *Tokens {
	t.Helper()
	tk, err := NewTokens(testSecret, "canbao", 2*time.Hour, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(kind Kind, role Role, aud, iss string, exp time.Time) *Claims {
	now := time.Now()
	c := &Claims{Kind: kind, Role: role, Version: 1, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: iss, Subject: "7", Audience: jwt.ClaimStrings{aud}, IssuedAt: jwt.NewNumericDate(now),
	}}
	if !exp.IsZero() {
		c.ExpiresAt = jwt.NewNumericDate(exp)
	}
	return c
}

func TestIssueAndParseRoundTrip(t *testing.T) {
	tk := newTestTokens(t)
	for _, p := range []Principal{
		{Kind: KindResident, ID: 9, Role: RoleResident, Version: 3},
		{Kind: KindStaff, ID: 4, Role: RoleVolunteer, Village: "zhenxing", Version: 1},
		{Kind: KindStaff, ID: 5, Role: RoleAdmin, Version: 2},
	} {
		s, ttl, err := tk.Issue(p)
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind == KindResident && ttl != 2*time.Hour || p.Kind == KindStaff && ttl != 30*time.Minute {
			t.Errorf("ttl %v for %s", ttl, p.Kind)
		}
		got, err := tk.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if *got != p {
			t.Errorf("got %+v want %+v", *got, p)
		}
		if strings.Contains(s, "openid") {
			t.Error("token must not carry an openid")
		}
	}
}

func TestParseRejectsBadTokens(t *testing.T) {
	tk := newTestTokens(t)
	future := time.Now().Add(time.Hour)
	good := claims(KindStaff, RoleAdmin, AudienceStaff, "canbao", future)
	rsaLike := sign(t, jwt.SigningMethodHS512, []byte(testSecret), good)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good)
	cases := map[string]string{
		"alg none":                none,
		"unlisted algorithm":      rsaLike,
		"no exp":                  sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindStaff, RoleAdmin, AudienceStaff, "canbao", time.Time{})),
		"expired beyond leeway":   sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindStaff, RoleAdmin, AudienceStaff, "canbao", time.Now().Add(-time.Minute))),
		"wrong issuer":            sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindStaff, RoleAdmin, AudienceStaff, "evil", future)),
		"wrong audience":          sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindStaff, RoleAdmin, "other-app", "canbao", future)),
		"resident aud staff role": sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindResident, RoleAdmin, AudienceResident, "canbao", future)),
		"staff kind resident aud": sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindStaff, RoleAdmin, AudienceResident, "canbao", future)),
		"wrong key":               sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), good),
		"garbage":                 "not.a.token",
		"empty":                   "",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if p, err := tk.Parse(tok); err == nil {
				t.Fatalf("accepted: %+v", p)
			}
		})
	}
	t.Run("expired within leeway is accepted", func(t *testing.T) {
		tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims(KindStaff, RoleAdmin, AudienceStaff, "canbao", time.Now().Add(-10*time.Second)))
		if _, err := tk.Parse(tok); err != nil {
			t.Fatalf("leeway of %v not honoured: %v", Leeway, err)
		}
	})
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := NewTokens("short", "canbao", time.Hour, time.Hour); err == nil {
		t.Fatal("a short secret must be refused")
	}
}

func TestPasswordHashAndPolicy(t *testing.T) {
	h, err := HashPassword("Correct-Horse-9")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("hash %q is not argon2id", h)
	}
	if ok, err := VerifyPassword(h, "Correct-Horse-9"); err != nil || !ok {
		t.Fatalf("right password refused: %v", err)
	}
	if ok, _ := VerifyPassword(h, "Correct-Horse-8"); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := VerifyPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("unknown hash format must be an error")
	}
	for pw, ok := range map[string]bool{
		"short1A!":            false,
		"alllowercaseletters": false,
		"lowercase123456":     false,
		"Lowercase123456":     true,
		"has-symbols-and-1":   true,
		"Contains-alice-1":    false, // contains the username
		"Tab\there-Password1": false,
	} {
		err := CheckPasswordPolicy("alice", pw)
		if (err == nil) != ok {
			t.Errorf("%q: err=%v, want ok=%v", pw, err, ok)
		}
	}
}
