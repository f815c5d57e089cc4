package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// FuzzPlan checks plans as POST /v1/plans would: decoding and checking
// never panic, a refusal is a 400 *api.Error, and an accepted plan is in
// canonical form: checking it again changes nothing.
func FuzzPlan(f *testing.F) {
	for _, s := range []struct {
		name, rate, quota string
		burst             int
	}{
		{"gold", "100/s", "1000000/month", 200},
		{"free", " 1/min ", "10/day", 0},
		{"Bad", "1/s", "", 0},
		{"p", "0/s", "", -1},
		{"p", "", "", 5},
		{"p", "1e3/s", "5/week", 0},
		{"p", "99999999999999999999/s", "", 0},
	} {
		f.Add(s.name, s.rate, s.quota, s.burst)
	}
	f.Fuzz(func(t *testing.T, name, rate, quota string, burst int) {
		body, _ := json.Marshal(api.Plan{Name: name, Rate: rate, Burst: burst, Quota: quota})
		r := httptest.NewRequest(http.MethodPost, "/v1/plans", strings.NewReader(string(body)))
		var p api.Plan
		err := decodeJSON(httptest.NewRecorder(), r, &p)
		if err == nil {
			err = checkPlan(&p)
		}
		if err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("refusal %v is not a 400 *api.Error", err)
			}
			return
		}
		again := p
		if err := checkPlan(&again); err != nil || again != p {
			t.Fatalf("the accepted plan %+v is not canonical: %+v, %v", p, again, err)
		}
	})
}

// FuzzGrace checks rotation grace periods: never a panic, and an accepted
// one is within 0..MaxRotateGrace.
func FuzzGrace(f *testing.F) {
	for _, s := range []string{"", "0s", "1h", "720h", "721h", "-1s", "soon", "9223372036854775807ns", "1h30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseGrace(s)
		if err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
				t.Fatalf("refusal %v is not a 400 *api.Error", err)
			}
			return
		}
		if d < 0 || d > MaxRotateGrace || (s == "" && d != 0) {
			t.Fatalf("grace %q accepted as %v", s, d)
		}
		if s != "" {
			if want, _ := time.ParseDuration(s); want != d {
				t.Fatalf("grace %q read as %v", s, d)
			}
		}
	})
}
