package importer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/canbao/canbao/internal/creditcode"
	"github.com/canbao/canbao/internal/idcard"
	"github.com/canbao/canbao/internal/importer"
)

// employers reads each person's employer fields by ID number.
func (e *storeEnv) employers() map[string][3]string {
	e.t.Helper()
	out := map[string][3]string{}
	for id, r := range e.residents() {
		var row struct {
			Name     *string `db:"employer_name"`
			Code     *string `db:"employer_credit_code"`
			Employed bool    `db:"employed"`
		}
		if err := e.db.Get(&row, `SELECT employer_name, employer_credit_code, employed FROM residents WHERE id = ?`, r.ID); err != nil {
			e.t.Fatal(err)
		}
		v := [3]string{"-", "-", "no"}
		if row.Name != nil {
			v[0] = *row.Name
		}
		if row.Code != nil {
			v[1] = *row.Code
		}
		if row.Employed {
			v[2] = "yes"
		}
		out[id] = v
	}
	return out
}

func TestImportEmployerColumns(t *testing.T) {
	e := newStore(t)
	code := creditcode.Generate("91", "350583", "MA2Y0001")
	other := creditcode.Generate("92", "350583", "L0000001")
	badCheck := code[:17] + map[bool]string{true: "1", false: "0"}[code[17] == '0']
	badOrg := code[:16] + map[bool]string{true: "1", false: "0"}[code[16] == '0'] + code[17:]
	ids := make([]string, 9)
	for i := range ids {
		ids[i] = idAged(30+i, idcard.Male, i+1)
	}
	header := []string{"身份证号码", "姓名", "村居", "是否就业", "参保状态", "工作单位", "统一社会信用代码"}
	rows := [][]string{header,
		{ids[0], "甲", "振兴村", "是", "未参保", "罗东鞋业有限公司", code},                 // 2: good
		{ids[1], "乙", "振兴村", "", "未参保", "罗东鞋业有限公司", strings.ToLower(code)}, // 3: lower case, employed implied
		{ids[2], "丙", "罗溪村", "", "未参保", "", other},                         // 4: code only
		{ids[3], "丁", "罗溪村", "是", "未参保", "", ""},                           // 5: employed, employer unknown
		{ids[4], "戊", "罗溪村", "", "未参保", "罗东鞋业有限公司", badCheck},              // 6: bad check character
		{ids[5], "己", "罗溪村", "", "未参保", "罗东鞋业有限公司", badOrg},                // 7: bad organisation code check
		{ids[6], "庚", "罗溪村", "否", "未参保", "罗东鞋业有限公司", code},                 // 8: not employed yet an employer
		{ids[7], "辛", "罗溪村", "", "未参保", "罗", ""},                           // 9: name too short
		{ids[8], "壬", "罗溪村", "", "未参保", "罗东鞋业有限公司", "9135058"},             // 10: too short
	}
	res, err := importer.RunFile(context.Background(), e.im, e.file("roster.csv", csvOf(rows)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 4 || res.RowsFailed != 5 {
		t.Fatalf("result %+v", res)
	}
	st, err := e.im.Status(context.Background(), res.ImportID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"6:employer_credit_code", "7:employer_credit_code", "8:employed", "9:employer_name", "10:employer_credit_code"}
	if got := errorPairs(st.Errors); !slices.Equal(got, want) {
		t.Fatalf("errors %v, want %v", got, want)
	}
	for _, er := range st.Errors {
		switch er.Row {
		case 6:
			if er.Message != "第 6 行：统一社会信用代码校验位（第 18 位）不正确，请核对" {
				t.Errorf("row 6 message %q", er.Message)
			}
		case 7:
			if !strings.Contains(er.Message, "第 7 行") || !strings.Contains(er.Message, "组织机构代码") {
				t.Errorf("row 7 message %q", er.Message)
			}
		case 8:
			if !strings.Contains(er.Message, "是否就业") {
				t.Errorf("row 8 message %q", er.Message)
			}
		}
	}
	got := e.employers()
	for id, w := range map[string][3]string{
		ids[0]: {"罗东鞋业有限公司", code, "yes"},
		ids[1]: {"罗东鞋业有限公司", code, "yes"},
		ids[2]: {"-", other, "yes"},
		ids[3]: {"-", "-", "yes"},
	} {
		if got[id] != w {
			t.Errorf("%s: %v, want %v", id[:6], got[id], w)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d people on the roster", len(got))
	}

	// A later file without the employer columns keeps the employers; one with another employer
	// changes it; importing the same file twice changes nothing.
	res, err = importer.RunFile(context.Background(), e.im, e.file("again.csv", csvOf([][]string{
		{"身份证号码", "姓名", "村居", "参保状态"}, {ids[0], "甲", "振兴村", "未参保"}})), nil)
	if err != nil || res.Unchanged != 1 {
		t.Fatalf("without the columns: %+v %v", res, err)
	}
	moved := csvOf([][]string{header, {ids[0], "甲", "振兴村", "", "未参保", "罗溪小吃店", other}})
	if res, err = importer.RunFile(context.Background(), e.im, e.file("moved.csv", moved), nil); err != nil || res.Updated != 1 {
		t.Fatalf("moved: %+v %v", res, err)
	}
	if res, err = importer.RunFile(context.Background(), e.im, e.file("moved2.csv", moved), nil); err != nil || res.Unchanged != 1 {
		t.Fatalf("moved again: %+v %v", res, err)
	}
	if g := e.employers()[ids[0]]; g != [3]string{"罗溪小吃店", other, "yes"} {
		t.Fatalf("after the move: %v", g)
	}
}
