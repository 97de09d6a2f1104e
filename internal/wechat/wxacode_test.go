package wechat

import (
	"bytes"
	"context"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/wechat/wechattest"
)

// TestWXACodeUnlimited: the code comes back as the fake's PNG with its content type, the
// request carried the scene and page, and one call reached the fake.
func TestWXACodeUnlimited(t *testing.T) {
	e := newEnv(t)
	c := e.client(2 * time.Second)
	img, err := c.WXACodeUnlimited(context.Background(), WXACode{Scene: "abcDEF123", Page: "pages/event/checkin", EnvVersion: "release", Width: 430})
	if err != nil {
		t.Fatal(err)
	}
	if img.ContentType != "image/png" {
		t.Fatalf("content type %q", img.ContentType)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img.Bytes))
	if err != nil || cfg.Width < 100 {
		t.Fatalf("not a PNG of a code: %v %+v", err, cfg)
	}
	calls := e.fake.WXACodes()
	if len(calls) != 1 || calls[0].Scene != "abcDEF123" || calls[0].Page != "pages/event/checkin" || calls[0].EnvVersion != "release" ||
		calls[0].CheckPath == nil || !*calls[0].CheckPath || calls[0].Width != 430 {
		t.Fatalf("calls: %+v", calls)
	}
	assertNoLeak(t, nil, e.logs.String(), testSecret, e.fake.Token())
}

// TestWXACodeErrcode: a JSON errcode answer (HTTP 200, application/json) is an *APIError,
// never image bytes; an expired token is refreshed and the call retried once.
func TestWXACodeErrcode(t *testing.T) {
	e := newEnv(t)
	c := e.client(2 * time.Second)
	ctx := context.Background()
	e.fake.FailNext(wechattest.PathWXACodeUnlimited, 41030, "invalid page rid: 1234")
	_, err := c.WXACodeUnlimited(ctx, WXACode{Scene: "s1", Page: "pages/x"})
	ae := asAPIError(t, err, 41030)
	if ae.Op != "wxacode.getUnlimited" || ae.Temporary() {
		t.Fatalf("%+v", ae)
	}

	if _, err := c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.ExpireToken() // the cached token is now rejected with 40001
	before := e.fake.TokenCalls()
	img, err := c.WXACodeUnlimited(ctx, WXACode{Scene: "s2", Page: "pages/x"})
	if err != nil || len(img.Bytes) == 0 {
		t.Fatalf("after expiry: %v", err)
	}
	if e.fake.TokenCalls() != before+1 {
		t.Fatalf("token fetched %d times, want 1", e.fake.TokenCalls()-before)
	}

	e.fake.FailNext(wechattest.PathWXACodeUnlimited, 42001, "access_token expired")
	e.fake.FailNext(wechattest.PathWXACodeUnlimited, 42001, "access_token expired")
	_, err = c.WXACodeUnlimited(ctx, WXACode{Scene: "s3", Page: "pages/x"})
	if ae := asAPIError(t, err, 42001); !ae.Temporary() {
		t.Fatal("a second expiry must be temporary")
	}

	e.fake.Malformed(wechattest.PathWXACodeUnlimited)
	_, err = c.WXACodeUnlimited(ctx, WXACode{Scene: "s4", Page: "pages/x"})
	asTransportError(t, err)

	for _, bad := range []string{"", strings.Repeat("a", 33), "中文", "a b"} {
		n := len(e.fake.WXACodes())
		_, err := c.WXACodeUnlimited(ctx, WXACode{Scene: bad, Page: "pages/x"})
		asAPIError(t, err, 40169)
		if len(e.fake.WXACodes()) != n {
			t.Fatalf("scene %q reached WeChat", bad)
		}
	}
	assertNoLeak(t, err, e.logs.String(), testSecret, e.fake.Token())
}
