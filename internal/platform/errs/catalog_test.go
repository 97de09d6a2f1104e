package errs

import "testing"

func TestRegisterRefusesCodesOutsideTheCatalog(t *testing.T) {
	if got := Register("SLUG_TAKEN", 409); got != "SLUG_TAKEN" {
		t.Fatalf("Register = %q", got)
	}
	for _, c := range []struct {
		code   Code
		status int
	}{{"NOT_IN_THE_CATALOG", 409}, {"SLUG_TAKEN", 400}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%s, %d) did not panic", c.code, c.status)
				}
			}()
			Register(c.code, c.status)
		}()
	}
}

func TestMessagesAndStatusesComeFromTheCatalog(t *testing.T) {
	if e := New(TierInvalid, ""); e.Message != "缴费档次不正确" || Status(e.Code) != 400 {
		t.Errorf("New without a message: %q %d", e.Message, Status(e.Code))
	}
	if e := Field(PhoneInvalid, "phone", "手机号码应为 11 位数字"); e.Message != "手机号码应为 11 位数字" {
		t.Errorf("Field keeps its own message: %q", e.Message)
	}
	if ErrUnauthenticated.Message != "请先登录" || ErrForbidden.Message != "您没有权限进行此操作" ||
		ErrNotFoundPublic.Message != "未找到相关记录" || Internalf("x").Message != "系统繁忙，请稍后再试" {
		t.Error("the ready-made errors' messages changed")
	}
	if Status("NO_SUCH_CODE") != 500 || Status(AccountLocked) != 429 || Status(Unavailable) != 503 {
		t.Error("Status")
	}
}
