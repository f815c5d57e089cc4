package api

import (
	"strings"
	"testing"
)

func TestCheckTag(t *testing.T) {
	tests := []struct {
		tag string
		ok  bool
	}{
		{"canary", true},
		{"v2-beta", true},
		{"0", true},
		{strings.Repeat("a", MaxTagLen), true},
		{"", false},
		{strings.Repeat("a", MaxTagLen+1), false},
		{"Canary", false},
		{"a@b", false},
		{"a/b", false},
		{"a b", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := CheckTag(tt.tag)
		if (err == nil) != tt.ok {
			t.Errorf("CheckTag(%q) = %v, want ok %v", tt.tag, err, tt.ok)
		}
		if err != nil {
			if e, isAPI := err.(*Error); !isAPI || e.Code != CodeBadRequest || e.Status != 400 {
				t.Errorf("CheckTag(%q) = %#v, want a 400 bad_request *Error", tt.tag, err)
			}
		}
	}
}
