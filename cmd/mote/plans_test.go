package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

func TestPlans(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)

	t.Run("create", func(t *testing.T) {
		r := n.must(t, "plans", "create", "gold", "--rate", "100/s", "--burst", "200", "--quota", "1000000/month")
		if r.stdout != "Created plan gold: rate 100/s, burst 200, quota 1000000/month\n" || r.stderr != "" {
			t.Errorf("output %s", r)
		}
		r = n.must(t, "plans", "create", "free", "--rate", "1/s")
		if r.stdout != "Created plan free: rate 1/s, burst 1\n" {
			t.Errorf("output %s", r)
		}
		r = n.must(t, "plans", "create", "open")
		if r.stdout != "Created plan open: no limits\n" {
			t.Errorf("output %s", r)
		}
	})
	t.Run("ls", func(t *testing.T) {
		r := n.must(t, "plans", "ls")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 4 || !regexp.MustCompile(`^NAME +RATE +BURST +QUOTA +CREATED$`).MatchString(lines[0]) {
			t.Fatalf("want a header and 3 rows:\n%s", r.stdout)
		}
		for name, want := range map[string]string{
			"free": `^free +1/s +1 +- +(just now|\d+s ago)$`,
			"gold": `^gold +100/s +200 +1000000/month +`,
			"open": `^open +- +- +- +`,
		} {
			if !regexp.MustCompile(want).MatchString(row(r.stdout, name)) {
				t.Errorf("row %q, want %s", row(r.stdout, name), want)
			}
		}
		var plans []api.Plan
		decode(t, n.must(t, "plans", "ls", "-o", "json").stdout, &plans)
		if len(plans) != 3 || plans[1].Name != "gold" || plans[1].Burst != 200 {
			t.Errorf("json %+v", plans)
		}
	})
	t.Run("update", func(t *testing.T) {
		r := n.must(t, "plans", "update", "gold", "--rate", "50/min")
		if r.stdout != "Updated plan gold: rate 50/min, burst 200, quota 1000000/month\n" {
			t.Errorf("output %s", r)
		}
		r = n.must(t, "plans", "update", "gold", "--quota", "")
		if r.stdout != "Updated plan gold: rate 50/min, burst 200\n" {
			t.Errorf("output %s", r)
		}
		r = n.must(t, "plans", "update", "gold", "--rate", "", "--quota", "10/day")
		if r.stdout != "Updated plan gold: quota 10/day\n" {
			t.Errorf("removing the rate keeps the burst: %s", r)
		}
		n.fails(t, []string{"plans", "update", "gold"}, "nothing to change", "Try: mote plans update gold")
		n.fails(t, []string{"plans", "update", "ghost", "--rate", "1/s"}, "no plan named ghost", "Try: list plans with: mote plans ls")
	})
	t.Run("errors", func(t *testing.T) {
		n.fails(t, []string{"plans", "create", "gold"}, "plan gold already exists", "Try: change it with: mote plans update gold")
		n.fails(t, []string{"plans", "create", "p", "--rate", "fast"}, "rate:", "Try: a rate is N/s")
		n.fails(t, []string{"plans", "create", "p", "--quota", "5/week"}, "quota:")
		n.fails(t, []string{"plans", "create", "p", "--rate", "1/s", "--burst", "-3"}, "burst:")
		n.fails(t, []string{"plans", "create", "Bad"}, "invalid plan name")
		n.fails(t, []string{"plans", "create"}, "accepts 1 arg(s)")
	})
	t.Run("rm", func(t *testing.T) {
		key := strings.TrimSpace(n.must(t, "keys", "create", "--app", "shop", "--plan", "free").stdout)
		n.fails(t, []string{"plans", "rm", "free"}, "plan free is used by 1 key", "Try: ", "revoke")
		n.must(t, "keys", "revoke", key[3:15])
		r := n.must(t, "plans", "rm", "free", "open")
		if r.stdout != "Removed plan free\nRemoved plan open\n" {
			t.Errorf("output %s", r)
		}
		if r := n.must(t, "plans", "ls"); row(r.stdout, "free") != "" || row(r.stdout, "gold") == "" {
			t.Errorf("after rm:\n%s", r.stdout)
		}
		n.fails(t, []string{"plans", "rm", "free"}, "no plan named free")
	})
}
