package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxCodeImage is the largest mini-program code image we read (WeChat's are 20-200 KiB).
const MaxCodeImage = 2 << 20

// WXACode asks for an unlimited mini-program code (wxacode.getUnlimited).
type WXACode struct {
	Scene      string // at most 32 visible characters of SceneChars
	Page       string // e.g. pages/event/checkin; "" is the home page
	EnvVersion string // release | trial | develop; "" is release
	Width      int    // 280-1280 px; 0 is WeChat's default (430)
	// NoCheckPath sends check_path false (a page not yet published); the default checks it.
	NoCheckPath bool
}

// Image is a code image as WeChat answered it.
type Image struct {
	ContentType string // image/jpeg or image/png
	Bytes       []byte
}

// SceneChars are the characters WeChat accepts in a scene besides letters and digits.
const SceneChars = "!#$&'()*+,/:;=?@-._~"

// ValidScene reports whether s is 1 to 32 characters WeChat accepts in a scene.
func ValidScene(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r < 0x80 && strings.ContainsRune(SceneChars, r):
		default:
			return false
		}
	}
	return true
}

type wxaBody struct {
	Scene      string `json:"scene"`
	Page       string `json:"page,omitempty"`
	CheckPath  bool   `json:"check_path"`
	EnvVersion string `json:"env_version,omitempty"`
	Width      int    `json:"width,omitempty"`
}

// WXACodeUnlimited posts to {base}/wxa/getwxacodeunlimit?access_token=TOKEN and returns the
// image. WeChat answers image bytes on success and a JSON {errcode, errmsg} otherwise, both
// with HTTP 200; the Content-Type tells them apart. On 40001/42001 the token is invalidated and
// the call retried once, as SendSubscribe does. A scene WeChat would refuse is refused here
// (errcode 40169) without calling it.
func (c *Client) WXACodeUnlimited(ctx context.Context, q WXACode) (Image, error) {
	const op = "wxacode.getUnlimited"
	if !ValidScene(q.Scene) {
		return Image{}, &APIError{Op: op, Code: 40169, Msg: "invalid scene (checked locally)"}
	}
	body, err := json.Marshal(wxaBody{Scene: q.Scene, Page: q.Page, CheckPath: !q.NoCheckPath, EnvVersion: q.EnvVersion, Width: q.Width})
	if err != nil {
		return Image{}, fmt.Errorf("wechat %s: encode: %w", op, err)
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.AccessToken(ctx)
		if err != nil {
			return Image{}, err
		}
		img, err := c.wxaCode(ctx, tok, body)
		var ae *APIError
		if attempt == 0 && errors.As(err, &ae) && (ae.Code == 40001 || ae.Code == 42001) {
			c.log.Info("wechat access token rejected; refreshing", "errcode", ae.Code)
			c.invalidateIf(ctx, tok)
			continue
		}
		return img, err
	}
}

func (c *Client) wxaCode(ctx context.Context, tok string, body []byte) (Image, error) {
	const op = "wxacode.getUnlimited"
	fail := func(err error) error {
		e := &TransportError{Op: op, Err: err}
		c.log.Warn("wechat call failed", "op", op, "err", e)
		return e
	}
	u := c.base + "/wxa/getwxacodeunlimit?" + url.Values{"access_token": {tok}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Image{}, fail(errors.New("cannot build request"))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL carries the access token
		}
		return Image{}, fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
		return Image{}, fail(fmt.Errorf("unexpected HTTP status %d", resp.StatusCode))
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "image/jpeg", "image/png":
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxCodeImage+1))
		switch {
		case err != nil:
			return Image{}, fail(fmt.Errorf("read answer: %w", err))
		case len(b) > MaxCodeImage:
			return Image{}, fail(fmt.Errorf("image larger than %d bytes", MaxCodeImage))
		case len(b) == 0:
			return Image{}, fail(errors.New("empty image"))
		}
		return Image{ContentType: mt, Bytes: b}, nil
	case "application/json", "text/plain":
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
		if err != nil {
			return Image{}, fail(fmt.Errorf("read answer: %w", err))
		}
		if len(b) > MaxBody {
			return Image{}, fail(fmt.Errorf("answer larger than %d bytes", MaxBody))
		}
		var a struct {
			ErrCode int    `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return Image{}, fail(errors.New("malformed answer: neither an image nor JSON"))
		}
		if a.ErrCode == 0 {
			return Image{}, fail(errors.New("malformed answer: JSON without an errcode"))
		}
		return Image{}, c.apiError(op, a.ErrCode, a.ErrMsg, tok)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
	return Image{}, fail(fmt.Errorf("unexpected content type %q", mt))
}
