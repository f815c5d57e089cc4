package admin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

// TestTrafficEndpoints checks the traffic, rollback and scale endpoints'
// answers over HTTP: status codes, error codes and the service returned.
func TestTrafficEndpoints(t *testing.T) {
	t.Parallel()
	env, _ := startNode(t, "svc")
	deploy(t, env, "svc") // unchanged: still one version
	tests := []struct {
		name, method, path, body string
		status                   int
		code, message            string
	}{
		{"split", "PUT", "/v1/services/svc/traffic", `{"traffic":[{"version":1,"weight":100,"tag":"main"}]}`, 200, "", ""},
		{"unknown field", "PUT", "/v1/services/svc/traffic", `{"split":[]}`, 400, api.CodeBadRequest, "not valid JSON for this endpoint"},
		{"not JSON", "PUT", "/v1/services/svc/traffic", `3=90`, 400, api.CodeBadRequest, "not valid JSON"},
		{"bad sum", "PUT", "/v1/services/svc/traffic", `{"traffic":[{"version":1,"weight":90}]}`, 400, api.CodeBadRequest, "the weights sum to 90"},
		{"unknown version", "PUT", "/v1/services/svc/traffic", `{"traffic":[{"version":2,"weight":100}]}`, 404, api.CodeNotFound, "svc has no version 2"},
		{"unknown service", "PUT", "/v1/services/nosuch/traffic", `{"traffic":[{"version":1,"weight":100}]}`, 404, api.CodeNotFound, "no service named nosuch"},
		{"bad name", "PUT", "/v1/services/Bad/traffic", `{"traffic":[{"version":1,"weight":100}]}`, 400, api.CodeBadRequest, ""},
		{"GET traffic", "GET", "/v1/services/svc/traffic", ``, 405, api.CodeMethodNotAllowed, ""},
		{"rollback with nothing before", "POST", "/v1/services/svc/rollback", ``, 409, api.CodeConflict, "no earlier version"},
		{"scale", "PUT", "/v1/services/svc/scale", `{"min":1,"max":3}`, 200, "", ""},
		{"scale out of range", "PUT", "/v1/services/svc/scale", `{"max":0}`, 400, api.CodeBadRequest, "max 0 is out of range"},
		{"clear scale", "DELETE", "/v1/services/svc/scale", ``, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := admin(t, env, tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, status, body, tt.status)
			}
			if tt.status == 200 {
				var svc api.Service
				if err := json.Unmarshal([]byte(body), &svc); err != nil || svc.Name != "svc" {
					t.Errorf("answer %s (%v), want the service", body, err)
				}
				return
			}
			var eb api.ErrorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == nil || eb.Error.Code != tt.code || !strings.Contains(eb.Error.Message, tt.message) {
				t.Errorf("error %s (%v), want %s with %q", body, err, tt.code, tt.message)
			}
		})
	}
	status, _, body := admin(t, env, "GET", "/v1/services/svc/versions", "")
	var vs []api.VersionStatus
	if err := json.Unmarshal([]byte(body), &vs); status != 200 || err != nil || len(vs) != 1 || vs[0].State != api.VersionServing || vs[0].Tag != "main" || vs[0].Weight != 100 {
		t.Errorf("versions: %d %s", status, body)
	}
}
