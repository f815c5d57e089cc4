package config_test

import (
	"errors"
	"testing"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/config"
	"github.com/mote-run/mote/guest/guesttest"
)

func TestGet(t *testing.T) {
	if _, err := config.Get("UPSTREAM"); !errors.Is(err, guest.ErrNotInGuest) {
		t.Errorf("outside a guest: %v, want ErrNotInGuest", err)
	}
	guesttest.Install(t, &guesttest.Host{Config: map[string]string{"UPSTREAM": "http://x", "EMPTY": ""}})
	tests := []struct {
		key, want string
		err       error
	}{
		{"UPSTREAM", "http://x", nil},
		{"EMPTY", "", nil},
		{"upstream", "", guest.ErrNotFound},
		{"", "", guest.ErrNotFound},
	}
	for _, tt := range tests {
		got, err := config.Get(tt.key)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.key, got, err, tt.want, tt.err)
		}
	}
}
