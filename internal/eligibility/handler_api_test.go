package eligibility_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/server/servertest"
)

func TestEligibilityAndTiersOverHTTP(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	id := idcard.Generate("350583", time.Date(1974, 7, 18, 0, 0, 0, 0, time.UTC), 7, idcard.Male)
	do := func(token string, b any) *servertest.Response {
		return env.Do(servertest.Request{Method: "POST", Path: "/api/v1/eligibility", Token: token, Body: b})
	}
	w := do(tok, map[string]any{"id_number": id, "employed": false, "land_expropriated": false, "as_of": "2019-07-18"})
	if w.Code != 200 || !strings.Contains(string(w.Body), `"recommended":{"scheme":"resident_pension","channel":"village","register_at":"village"}`) ||
		!strings.Contains(string(w.Body), `"age":45`) {
		t.Fatalf("45th birthday: %d %s", w.Code, w.Body)
	}
	w = do(tok, map[string]any{"id_number": id, "employed": false, "land_expropriated": false, "as_of": "2019-07-17"})
	if !strings.Contains(string(w.Body), `"recommended":{"scheme":"employee_pension","channel":"flexible","register_at":"city_center"}`) {
		t.Fatalf("day before: %s", w.Body)
	}
	w = do(tok, map[string]any{"gender": "female", "birth_date": "1990-03-01", "employed": true, "land_expropriated": false})
	if w.Code != 200 || !strings.Contains(string(w.Body), `"register_at":"employer"`) || !strings.Contains(string(w.Body), `"alternatives":[]`) {
		t.Fatalf("employed: %s", w.Body)
	}
	for _, tc := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"gender": "female", "birth_date": "1950-03-01", "employed": false, "land_expropriated": false}, 422, ""},
		{map[string]any{"id_number": id[:17] + "5", "employed": false, "land_expropriated": false}, 400, "id_number"},
		{map[string]any{"gender": "female", "employed": false, "land_expropriated": false}, 400, "birth_date"},
		{map[string]any{"gender": "x", "birth_date": "1990-01-01", "employed": false, "land_expropriated": false}, 400, "gender"},
		{map[string]any{"id_number": id, "employed": false, "land_expropriated": false, "as_of": "tomorrow"}, 400, "as_of"},
		{map[string]any{"id_number": id, "land_expropriated": false}, 400, "employed"},
	} {
		if w := do(tok, tc.body); w.Code != tc.status || w.ErrorField() != tc.field {
			t.Errorf("%v: %d %s", tc.body, w.Code, w.Body)
		}
	}
	if w := do("", map[string]any{"gender": "female", "birth_date": "1990-03-01", "employed": true, "land_expropriated": false}); w.Code != 401 {
		t.Fatalf("no token: %d", w.Code)
	}

	tiers := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/tiers?year=2019"})
	if tiers.Code != 200 || !strings.Contains(string(tiers.Body), `{"amount":100,"subsidy":30}`) || !strings.Contains(string(tiers.Body), `{"amount":2000,"subsidy":120}`) {
		t.Fatalf("tiers: %d %s", tiers.Code, tiers.Body)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/tiers"}); w.Code != 200 || !strings.Contains(string(w.Body), `"year":`+time.Now().Format("2006")) {
		t.Fatalf("default year: %s", w.Body)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/tiers?year=2010"}); w.Code != 404 {
		t.Fatalf("no policy that year: %d", w.Code)
	}
	if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/tiers?year=abc"}); w.Code != 400 {
		t.Fatalf("bad year: %d", w.Code)
	}
}
