package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

// fuzzMark starts every value FuzzConfigRequest sends, so that a value in
// an error can be told from the words around it.
const fuzzMark = "SECRETMARK"

// FuzzConfigRequest feeds PUT bodies whose value, written raw, may break
// the JSON anywhere. Decoding and checking must never panic, a refusal is
// always a 4xx *api.Error, and no refusal shows the value.
func FuzzConfigRequest(f *testing.F) {
	for _, s := range [][2]string{
		{"TOKEN", "hunter2"},
		{"bad key", "x"},
		{"A", `\q`},
		{"A", `"}, "vals": {"B": "`},
		{"A", `", "B": 5, "C": "`},
		{"A", "\x00\xff"},
		{"", ""},
		{"A", `"}}` + "\n" + `{"values": {"B": "`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		if strings.Contains(key, fuzzMark) || strings.Contains(value, fuzzMark) {
			t.Skip()
		}
		k, _ := json.Marshal(key)
		body := `{"values": {` + string(k) + `: "` + fuzzMark + value + `"}, "secret": true}`
		r := httptest.NewRequest(http.MethodPut, "/v1/services/x/config", strings.NewReader(body))
		var req api.ConfigRequest
		err := decodeConfigRequest(httptest.NewRecorder(), r, &req)
		if err == nil {
			err = checkConfigValues(req.Values)
		}
		if err == nil {
			return
		}
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 {
			t.Fatalf("refusal %v is not a 4xx *api.Error", err)
		}
		text := ae.Message + ae.Hint + strings.Join(ae.Details, "")
		if strings.Contains(text, fuzzMark) {
			t.Fatalf("the error shows the value: %q", text)
		}
	})
}
