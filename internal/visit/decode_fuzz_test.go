package visit

import (
	"testing"

	"github.com/canbao/canbao/internal/platform/errs"
)

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"client_id":"6f1c1f52-6f8e-4a4e-9d39-2f2b4d1f1e11","resident_id":1,"visited_at":"2019-08-01T10:00:00+08:00","outcome":"agreed"}`,
		`{"visits":[{"client_id":"x","resident_id":1}]}`, `{"visits":[]}`, `[]`, `{"visits":null}`, `{"lat":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		inputs, batch, err := DecodeBody(body)
		if err != nil {
			e, ok := errs.As(err)
			if !ok || errs.Status(e.Code) >= 500 {
				t.Fatalf("decode error is not a client error: %v", err)
			}
			return
		}
		if batch && (len(inputs) == 0 || len(inputs) > MaxBatch) {
			t.Fatalf("batch of %d accepted", len(inputs))
		}
		if !batch && len(inputs) != 1 {
			t.Fatalf("single visit decoded to %d", len(inputs))
		}
	})
}
