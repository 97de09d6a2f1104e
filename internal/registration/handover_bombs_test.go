package registration_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/canbao/canbao/internal/auth"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/platform/xlsxcheck/xlsxchecktest"
	"github.com/canbao/canbao/internal/server/servertest"
)

// A 1 MiB answer file with a 1 GiB extra part is refused before anything is unpacked or
// changed: 413 about the file, the registration untouched, nothing audited.
func TestCityAnswersZipBombIsRefused(t *testing.T) {
	env := servertest.New(t)
	tok, _ := env.Resident()
	admin, _ := env.Staff(auth.RoleAdmin, "")
	vadmin, _ := env.Staff(auth.RoleVillageAdmin, "zhenxing")
	w := post(env, tok, body(idAged(50, idcard.Male, 81), nil))
	if w.Code != 201 {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	var reg struct{ ID int64 }
	w.JSON(t, &reg)
	if w := env.Do(servertest.Request{Method: "POST", Path: "/api/v1/admin/registrations/" + strconv.FormatInt(reg.ID, 10) + "/confirm", Token: vadmin}); w.Code != 200 {
		t.Fatalf("confirm: %d %s", w.Code, w.Body)
	}

	bomb, err := os.ReadFile(xlsxchecktest.Bomb(t, [][]any{{"登记编号", "办理结果", "原因"}, {reg.ID, "未办理", "已在外地参保"}}, xlsxchecktest.GiB))
	if err != nil {
		t.Fatal(err)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "answer.xlsx")
	fw.Write(bomb)
	mw.Close()
	alloc := xlsxchecktest.Allocated(t, func() {
		w = env.Do(servertest.Request{Method: http.MethodPost, Path: "/api/v1/admin/city-answers", Token: admin,
			Body: mp.Bytes(), Header: map[string]string{"Content-Type": mw.FormDataContentType()}})
	})
	t.Logf("city answers bomb: %d, allocated %d MiB", w.Code, alloc>>20)
	if w.Code != http.StatusRequestEntityTooLarge || w.ErrorCode() != "BODY_TOO_LARGE" || w.ErrorField() != "file" {
		t.Fatalf("bomb: %d %s", w.Code, w.Body)
	}
	if alloc > 256<<20 {
		t.Errorf("allocated %d MiB handling the bomb", alloc>>20)
	}
	if n := env.Count(`SELECT COUNT(*) FROM registrations WHERE id = ? AND status = 'confirmed' AND city_result IS NULL`, reg.ID); n != 1 {
		t.Error("the bomb changed the registration")
	}
	if n := env.Count(`SELECT COUNT(*) FROM audit_log WHERE action = 'registration.city_answers'`); n != 0 {
		t.Errorf("%d audit rows", n)
	}
}

func TestExportDateRangeIsValidated(t *testing.T) {
	env := servertest.New(t)
	admin, _ := env.Staff(auth.RoleAdmin, "")
	for _, c := range []struct{ query, field string }{
		{"from=0001-01-01&to=0001-01-02", "from"}, // the year 0 (was 500)
		{"from=0000-12-31&to=0001-01-01", "from"},
		{"from=2024-01-01&to=9999-12-31", "to"},
		{"from=1999-12-31&to=2000-01-01", "from"},
		{"from=2024-02-30&to=2024-03-01", "from"},
		{"from=2024-01-01", "to"},
		{"to=2024-01-01", "from"},
		{"from=2024-03-01&to=2024-02-01", "to"},
		{"from=2023-01-01&to=2024-01-03", "to"}, // 368 days
	} {
		w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/registrations?" + c.query, Token: admin})
		if w.Code != http.StatusBadRequest || w.ErrorField() != c.field {
			t.Errorf("%s: %d %s", c.query, w.Code, w.Body)
		}
	}
	// The ends of the accepted range answer 200.
	for _, q := range []string{"from=2024-01-01&to=2024-12-31", "from=2023-01-01&to=2024-01-01", "from=2000-01-01&to=2000-01-31", "from=2100-12-01&to=2100-12-31"} {
		if w := env.Do(servertest.Request{Method: "GET", Path: "/api/v1/admin/exports/registrations?" + q, Token: admin}); w.Code != http.StatusOK {
			t.Errorf("%s: %d %s", q, w.Code, w.Body)
		}
	}
}
