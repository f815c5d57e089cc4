package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

func trafficCmd(g *globals) *cobra.Command {
	var (
		tags, untags []string
		rollbackOn   string
		minRequests  int
		o            output
	)
	cmd := &cobra.Command{
		Use:   "traffic NAME [VERSION=WEIGHT...]",
		Short: "Show or change how a service's traffic is split among its versions",
		Long: `Without changes, show a service's traffic split. Otherwise set it:

  VERSION=WEIGHT   give VERSION (a number, or "latest") WEIGHT percent of the
                   requests. When the weights named sum to 100 they are the
                   whole split: versions not named get none. Otherwise the
                   versions not named keep theirs, and all must sum to 100.
                   0 takes a version out of rotation.
  --tag V=TAG      tag version V (it may have no weight): it is served at
                   ROUTE@TAG (/hello@canary/x; /@canary/x for the route "/")
                   and for requests with the header X-Mote-Tag: TAG.
  --untag TAG      remove a tag.
  --rollback-on 5% roll the service back by itself (as 'mote rollback' does)
                   when a version in the new split, other than the last one
                   that had 100%, answers more than 5% of its requests with
                   a 5xx over a minute (after --min-requests, default 20).
                   Any later change of the split removes the guard.

The gateway picks a version per request. Requests that started on a version
that loses its share finish on it; then it drains. The command returns once
the node serves the new split.`,
		Example: `  mote traffic hello
  mote traffic hello 3=90 4=10
  mote traffic hello latest=100
  mote traffic hello 3=90 4=10 --rollback-on 5%
  mote traffic hello 4=0 --tag 4=canary
  mote traffic hello --untag canary`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.Service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			svc := d.Service
			guard, err := parseGuard(rollbackOn, minRequests, cmd.Flags().Changed("min-requests"))
			if err != nil {
				return err
			}
			if guard != nil && len(args) == 1 && len(tags) == 0 && len(untags) == 0 {
				return fmt.Errorf("--rollback-on guards a new split; give one, e.g. mote traffic %s 3=90 4=10 --rollback-on 5%%", svc.Name)
			}
			if len(args) > 1 || len(tags) > 0 || len(untags) > 0 {
				ch, err := parseTrafficChange(args[1:], tags, untags, svc.Latest)
				if err != nil {
					return err
				}
				split, err := ch.apply(svc)
				if err != nil {
					return err
				}
				if svc, err = c.SetTrafficGuarded(cmd.Context(), svc.Name, split, guard); err != nil {
					return err
				}
			}
			if o == "json" {
				return writeJSON(g.stdout, svc.Traffic)
			}
			return printSplit(g, svc)
		},
	}
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "tag a version: VERSION=TAG (repeatable)")
	cmd.Flags().StringArrayVar(&untags, "untag", nil, "remove a tag (repeatable)")
	cmd.Flags().StringVar(&rollbackOn, "rollback-on", "", "roll back by itself when a canary's 5xx rate over a minute exceeds this (e.g. 5%)")
	cmd.Flags().IntVar(&minRequests, "min-requests", 20, "requests a canary must answer before --rollback-on judges it")
	addOutputFlag(cmd, &o)
	return cmd
}

// parseGuard reads --rollback-on ("5%", "0.5%" or a fraction "0.05") and
// --min-requests into a canary guard; nil without --rollback-on.
func parseGuard(rate string, minRequests int, minSet bool) (*api.CanaryGuard, error) {
	if rate == "" {
		if minSet {
			return nil, fmt.Errorf("--min-requests goes with --rollback-on")
		}
		return nil, nil
	}
	pct, isPct := strings.CutSuffix(rate, "%")
	f, err := strconv.ParseFloat(pct, 64)
	if err == nil && isPct {
		f /= 100
	}
	if err != nil || !(f > 0 && f <= 1) {
		return nil, fmt.Errorf("--rollback-on %q: want a 5xx rate above 0 and at most 100%%, like 5%% or 0.05", rate)
	}
	if minRequests < 1 {
		return nil, fmt.Errorf("--min-requests %d: want at least 1", minRequests)
	}
	return &api.CanaryGuard{MaxErrorRate: f, MinRequests: minRequests}, nil
}

// printSplit shows a service's split, one row per routed version.
func printSplit(g *globals, svc api.Service) error {
	rows := make([][]string, 0, len(svc.Traffic))
	for _, t := range svc.Traffic {
		url := "-"
		if t.Tag != "" && svc.URL != "" {
			url = tagURL(svc.URL, t.Tag)
		}
		rows = append(rows, []string{strconv.Itoa(t.Version), fmt.Sprintf("%d%%", t.Weight), orDash(t.Tag), url})
	}
	if err := table(g.stdout, "VERSION\tTRAFFIC\tTAG\tTAG URL", rows); err != nil {
		return err
	}
	if gd := svc.Guard; gd != nil {
		minReq := gd.MinRequests
		if minReq == 0 {
			minReq = 20
		}
		fmt.Fprintf(g.stdout, "Rolls back by itself when a canary answers over %s%% of its requests with a 5xx in a minute (after %d requests).\n",
			strconv.FormatFloat(100*gd.MaxErrorRate, 'f', -1, 64), minReq)
	}
	return nil
}

// trafficChange is what `mote traffic` was asked to change.
type trafficChange struct {
	weights []api.TrafficSplit // Version and Weight, in the order given
	tags    []api.TrafficSplit // Version and Tag
	untags  []string
}

// parseTrafficChange reads VERSION=WEIGHT arguments, --tag VERSION=TAG and
// --untag TAG values; VERSION is a number or "latest" (also "@latest"),
// which stands for latest.
func parseTrafficChange(weights, tags, untags []string, latest int) (trafficChange, error) {
	var ch trafficChange
	seen := map[int]bool{}
	for _, a := range weights {
		v, w, ok := strings.Cut(a, "=")
		if !ok {
			return ch, fmt.Errorf("%q is not VERSION=WEIGHT; Try: mote traffic NAME 3=90 4=10", a)
		}
		n, err := parseVersion(v, latest)
		if err != nil {
			return ch, fmt.Errorf("%q: %w", a, err)
		}
		pct, err := strconv.Atoi(strings.TrimSuffix(w, "%"))
		if err != nil || pct < 0 || pct > 100 {
			return ch, fmt.Errorf("%q: the weight %q is not a percentage from 0 to 100", a, w)
		}
		if seen[n] {
			return ch, fmt.Errorf("version %d is given a weight twice", n)
		}
		seen[n] = true
		ch.weights = append(ch.weights, api.TrafficSplit{Version: n, Weight: pct})
	}
	for _, a := range tags {
		v, tag, ok := strings.Cut(a, "=")
		if !ok {
			return ch, fmt.Errorf("--tag %q is not VERSION=TAG; Try: --tag 4=canary", a)
		}
		n, err := parseVersion(v, latest)
		if err != nil {
			return ch, fmt.Errorf("--tag %q: %w", a, err)
		}
		if err := api.CheckTag(tag); err != nil {
			return ch, fmt.Errorf("--tag %q: %s", a, err.(*api.Error).Message)
		}
		ch.tags = append(ch.tags, api.TrafficSplit{Version: n, Tag: tag})
	}
	ch.untags = untags
	return ch, nil
}

// parseVersion reads a version number or "latest".
func parseVersion(s string, latest int) (int, error) {
	if s == "latest" || s == "@latest" {
		return latest, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("the version %q is not a number from 1 or \"latest\"", s)
	}
	return n, nil
}

// apply computes the whole split the change makes of svc's split.
func (ch trafficChange) apply(svc api.Service) ([]api.TrafficSplit, error) {
	split := map[int]*api.TrafficSplit{}
	for _, t := range svc.Traffic {
		split[t.Version] = &api.TrafficSplit{Version: t.Version, Weight: t.Weight, Tag: t.Tag}
	}
	entry := func(v int) *api.TrafficSplit {
		if split[v] == nil {
			split[v] = &api.TrafficSplit{Version: v}
		}
		return split[v]
	}
	if len(ch.weights) > 0 {
		named := 0
		for _, w := range ch.weights {
			named += w.Weight
		}
		if named == 100 {
			for _, t := range split {
				t.Weight = 0
			}
		}
		for _, w := range ch.weights {
			entry(w.Version).Weight = w.Weight
		}
		total := 0
		for _, t := range split {
			total += t.Weight
		}
		if total != 100 {
			return nil, fmt.Errorf("the weights would sum to %d%% (%s); name every version that should take traffic, with weights summing to 100; Try: mote traffic %s %s",
				total, formatWeights(split), svc.Name, suggestSplit(ch.weights))
		}
	}
	for _, tag := range ch.untags {
		found := false
		for _, t := range split {
			if t.Tag == tag {
				t.Tag, found = "", true
			}
		}
		if !found {
			return nil, fmt.Errorf("no version of %s is tagged %q", svc.Name, tag)
		}
	}
	for _, tg := range ch.tags {
		for _, t := range split {
			if t.Tag == tg.Tag {
				t.Tag = ""
			}
		}
		entry(tg.Version).Tag = tg.Tag
	}
	out := make([]api.TrafficSplit, 0, len(split))
	for _, t := range split {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b api.TrafficSplit) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// formatWeights renders the versions with a weight: "3=90% 4=20%".
func formatWeights(split map[int]*api.TrafficSplit) string {
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(split)) {
		if w := split[v].Weight; w > 0 {
			parts = append(parts, fmt.Sprintf("%d=%d%%", v, w))
		}
	}
	if len(parts) == 0 {
		return "no version has a weight"
	}
	return strings.Join(parts, " ")
}

// suggestSplit proposes weights summing to 100 for the versions named:
// the last takes what the others leave (at least 0).
func suggestSplit(named []api.TrafficSplit) string {
	rest := 100
	parts := make([]string, len(named))
	for i, w := range named {
		n := w.Weight
		if i == len(named)-1 || n > rest {
			n = rest
		}
		rest -= n
		parts[i] = fmt.Sprintf("%d=%d", w.Version, n)
	}
	return strings.Join(parts, " ")
}

// tagURL is where a tagged version of the service at url is served:
// "http://h/hello" gives "http://h/hello@canary", "http://h/" gives
// "http://h/@canary".
func tagURL(url, tag string) string { return url + "@" + tag }

func tagOf(split []api.TrafficSplit, version int) string {
	for _, t := range split {
		if t.Version == version {
			return t.Tag
		}
	}
	return ""
}

func weightOf(split []api.TrafficSplit, version int) int {
	for _, t := range split {
		if t.Version == version {
			return t.Weight
		}
	}
	return 0
}

func rollbackCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback NAME",
		Short: "Give all of a service's traffic back to the previous version that had it",
		Long: `Give 100% of a service's traffic to the previous version that had all of it.
In the middle of a split (a canary), that is the last version that had 100%.
Rolling back again goes one version further back. Tagged versions keep their
tags; requests that started on the version left behind finish on it.`,
		Example: `  mote rollback hello`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			svc, err := c.Rollback(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Rolled %s back to version %d (100%% of the traffic)\n", svc.Name, svc.Version)
			return nil
		},
	}
}

func scaleCmd(g *globals) *cobra.Command {
	var (
		minN, maxN int
		reset      bool
	)
	cmd := &cobra.Command{
		Use:   "scale NAME [--min N] [--max N]",
		Short: "Override the instance bounds of a service's versions",
		Long: `Override the [scale] min and max of every version of a service, live, without
a new version: min instances are kept warm (0 scales to zero when idle), at most
max run at once. A bound not given keeps each version's own. The override
outlives deploys; --reset removes it. Without flags, show the override.`,
		Example: `  mote scale hello --min 1 --max 50
  mote scale hello --max 5
  mote scale hello --reset
  mote scale hello`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			setMin, setMax := cmd.Flags().Changed("min"), cmd.Flags().Changed("max")
			if reset && (setMin || setMax) {
				return fmt.Errorf("--reset removes the override; give it alone, or --min/--max without it")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var svc api.Service
			switch {
			case reset:
				svc, err = c.ClearScale(ctx, args[0])
			case setMin || setMax:
				var sc api.Scale
				if setMin {
					sc.Min = &minN
				}
				if setMax {
					sc.Max = &maxN
				}
				svc, err = c.SetScale(ctx, args[0], sc)
			default:
				svc, err = currentService(ctx, c, args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: %s\n", svc.Name, describeScale(svc.Scale))
			return nil
		},
	}
	cmd.Flags().IntVar(&minN, "min", 0, "instances kept warm (0 scales to zero when idle)")
	cmd.Flags().IntVar(&maxN, "max", 0, "instances at most")
	cmd.Flags().BoolVar(&reset, "reset", false, "remove the override: each version's [scale] applies")
	return cmd
}

func currentService(ctx context.Context, c *client.Client, name string) (api.Service, error) {
	d, err := c.Service(ctx, name)
	return d.Service, err
}

// describeScale renders a scale override for people.
func describeScale(sc *api.Scale) string {
	if sc == nil || sc.Min == nil && sc.Max == nil {
		return "no scale override; each version's [scale] applies"
	}
	var parts []string
	if sc.Min != nil {
		parts = append(parts, fmt.Sprintf("min %d", *sc.Min))
	}
	if sc.Max != nil {
		parts = append(parts, fmt.Sprintf("max %d", *sc.Max))
	}
	return "scale override " + strings.Join(parts, ", ")
}
