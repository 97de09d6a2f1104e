package wechattest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
)

// PathWXACodeUnlimited is wxacode.getUnlimited.
const PathWXACodeUnlimited = "/wxa/getwxacodeunlimit"

// WXACodeCall is one wxacode.getUnlimited request the fake answered with an image.
type WXACodeCall struct {
	Scene      string
	Page       string
	CheckPath  *bool
	EnvVersion string
	Width      int
}

// WXACodes returns the wxacode.getUnlimited requests answered with an image.
func (s *Server) WXACodes() []WXACodeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WXACodeCall(nil), s.wxaCodes...)
}

var envVersions = map[string]bool{"": true, "release": true, "trial": true, "develop": true}

// wxaCodeUnlimited speaks wxacode.getUnlimited: a JSON body in, image/png bytes out on
// success, a JSON errcode (HTTP 200) otherwise.
func (s *Server) wxaCodeUnlimited(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	var req struct {
		Scene      string `json:"scene"`
		Page       string `json:"page"`
		CheckPath  *bool  `json:"check_path"`
		EnvVersion string `json:"env_version"`
		Width      int    `json:"width"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeErr(w, 47001, "data format error")
		return
	}
	switch {
	case req.Scene == "" || len(req.Scene) > 32 || strings.ContainsFunc(req.Scene, func(c rune) bool {
		return c > 0x7e || c <= ' ' || (!isAlnum(c) && !strings.ContainsRune("!#$&'()*+,/:;=?@-._~", c))
	}):
		writeErr(w, 40169, "invalid length for scene, or the data is not json string")
		return
	case strings.HasPrefix(req.Page, "/"):
		writeErr(w, 41030, "invalid page")
		return
	case !envVersions[req.EnvVersion]:
		writeErr(w, 40097, "invalid args: env_version")
		return
	case req.Width != 0 && (req.Width < 280 || req.Width > 1280):
		writeErr(w, 40097, "invalid args: width")
		return
	}
	width := req.Width
	if width == 0 {
		width = 430
	}
	s.mu.Lock()
	s.wxaCodes = append(s.wxaCodes, WXACodeCall{Scene: req.Scene, Page: req.Page, CheckPath: req.CheckPath, EnvVersion: req.EnvVersion, Width: req.Width})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(CodeImage(req.Scene, width))
}

func isAlnum(c rune) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// CodeImage draws a stand-in for a mini-program code: a square PNG of width pixels with three
// finder squares and a pattern of dark modules derived from the scene, so it looks (and
// rasterises) like a code and differs per scene.
func CodeImage(scene string, width int) []byte {
	const modules = 29
	mod := width / modules
	img := image.NewPaletted(image.Rect(0, 0, width, width), color.Palette{color.White, color.Black})
	seed := sha256.Sum256([]byte(scene))
	dark := func(x, y int) bool {
		finder := func(fx, fy int) (bool, bool) {
			dx, dy := x-fx, y-fy
			if dx < 0 || dy < 0 || dx > 6 || dy > 6 {
				return false, false
			}
			ring := dx == 0 || dy == 0 || dx == 6 || dy == 6
			core := dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4
			return true, ring || core
		}
		for _, f := range [][2]int{{1, 1}, {modules - 8, 1}, {1, modules - 8}} {
			if in, d := finder(f[0], f[1]); in {
				return d
			}
		}
		if x == 0 || y == 0 || x == modules-1 || y == modules-1 {
			return false // quiet zone
		}
		i := (y*modules + x) % 256
		return seed[i/8%32]>>(i%8)&1 == 1 || (x*7+y*13+int(seed[(x+y)%32]))%3 == 0
	}
	for y := 0; y < modules; y++ {
		for x := 0; x < modules; x++ {
			if !dark(x, y) {
				continue
			}
			for py := y * mod; py < (y+1)*mod; py++ {
				for px := x * mod; px < (x+1)*mod; px++ {
					img.SetColorIndex(px, py, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}
