package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// specEncode follows the spec's steps literally, independently of percentEncode: every byte
// except A-Z a-z 0-9 - _ . ~ becomes %XX with upper-case hex.
func specEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func specStringToSign(method string, p map[string]string) string {
	var keys []string
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, specEncode(k)+"="+specEncode(p[k]))
	}
	return method + "&%2F&" + specEncode(strings.Join(pairs, "&"))
}

func specSign(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func values(p map[string]string) url.Values {
	v := url.Values{}
	for k, x := range p {
		v.Set(k, x)
	}
	return v
}

func TestSignatureKnownAnswerSendSms(t *testing.T) {
	const secret = "testSecretValue0123"
	p := map[string]string{
		"AccessKeyId":      "LTAI5tTestKeyId",
		"Action":           "SendSms",
		"Format":           "JSON",
		"OutId":            "d-000123",
		"PhoneNumbers":     "13812345678",
		"RegionId":         "cn-hangzhou",
		"SignName":         "罗东镇劳保所",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41",
		"SignatureVersion": "1.0",
		"TemplateCode":     "SMS_123456789",
		"TemplateParam":    `{"name":"张三","note":"a b*c~d+e"}`, // space, *, ~ and + exercise the special encoding
		"Timestamp":        "2025-03-01T08:30:00Z",
		"Version":          "2017-05-25",
		"Signature":        "must-be-ignored",
	}
	got := stringToSign("POST", values(p))

	// Computed independently in the test with the spec's steps …
	if want := specStringToSign("POST", p); got != want {
		t.Fatalf("string to sign:\n got %s\nwant %s", got, want)
	}
	// … and outside Go altogether (Python: urllib.parse.quote(s, safe="-_.~"), hmac, base64).
	const wantSTS = "POST&%2F&AccessKeyId%3DLTAI5tTestKeyId%26Action%3DSendSms%26Format%3DJSON%26OutId%3Dd-000123" +
		"%26PhoneNumbers%3D13812345678%26RegionId%3Dcn-hangzhou" +
		"%26SignName%3D%25E7%25BD%2597%25E4%25B8%259C%25E9%2595%2587%25E5%258A%25B3%25E4%25BF%259D%25E6%2589%2580" +
		"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D6f1c2a9e-3b7d-4c1e-9a55-0d2f8e7b6a41%26SignatureVersion%3D1.0" +
		"%26TemplateCode%3DSMS_123456789" +
		"%26TemplateParam%3D%257B%2522name%2522%253A%2522%25E5%25BC%25A0%25E4%25B8%2589%2522%252C%2522note%2522%253A%2522a%2520b%252Ac~d%252Be%2522%257D" +
		"%26Timestamp%3D2025-03-01T08%253A30%253A00Z%26Version%3D2017-05-25"
	if got != wantSTS {
		t.Fatalf("string to sign:\n got %s\nwant %s", got, wantSTS)
	}
	sig := sign(secret, got)
	if want := specSign(secret, wantSTS); sig != want {
		t.Fatalf("signature %s, want %s", sig, want)
	}
	if sig != "ZantGh/k3q+Rn3+3n4AfK91/HRA=" {
		t.Fatalf("signature %s, want the externally computed ZantGh/k3q+Rn3+3n4AfK91/HRA=", sig)
	}
}

// The worked example of Aliyun's RPC signature documentation (ECS DescribeRegions, GET).
func TestSignatureKnownAnswerAliyunDocExample(t *testing.T) {
	p := url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeRegions"},
		"Format":           {"XML"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {"2016-02-23T12:46:24Z"},
		"Version":          {"2014-05-26"},
	}
	sts := stringToSign("GET", p)
	const want = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1" +
		"%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0" +
		"%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	if sts != want {
		t.Fatalf("string to sign:\n got %s\nwant %s", sts, want)
	}
	if sig := sign("testsecret", sts); sig != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("signature %s, want OLeaidS1JvxuMvnyHOwuJ+uX5qY=", sig)
	}
}

func TestPercentEncode(t *testing.T) {
	for _, s := range []string{"", "abc-_.~", "a b", "a+b", "a*b", "~", "罗东镇", "{\"k\":\"v\"}", "100%", "=&/?#", "\x00\xff"} {
		if got, want := percentEncode(s), specEncode(s); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", s, got, want)
		}
	}
}
