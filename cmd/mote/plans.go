package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

func plansCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plans",
		Short: "Create, list, change and remove plans: the limits API keys get",
		Long: `A plan is a named set of limits for API keys: a sustained rate with a burst
(a token bucket, per key) and a calendar quota (per key, per UTC day or
month). Every key is on one plan; changing a plan changes the limits of all
its keys at once.`,
		Example: `  mote plans create gold --rate 100/s --burst 200 --quota 1000000/month
  mote plans ls
  mote plans update gold --rate 200/s
  mote plans rm gold`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(plansCreateCmd(g), plansLsCmd(g), plansUpdateCmd(g), plansRmCmd(g))
	return cmd
}

// planFlags are the limits a plan command sets.
type planFlags struct {
	rate, quota string
	burst       int
}

func (f *planFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.rate, "rate", "", `sustained rate per key: N/s, N/min or N/hour ("" for none)`)
	cmd.Flags().IntVar(&f.burst, "burst", 0, "requests a key may make at once above the rate (default: the rate's N)")
	cmd.Flags().StringVar(&f.quota, "quota", "", `calendar quota per key, in UTC: N/day or N/month ("" for none)`)
}

func plansCreateCmd(g *globals) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "create NAME --rate N/s [--burst N] [--quota N/day|N/month]",
		Short: "Create a plan",
		Long: `Create a plan. --rate is the sustained rate each key may keep up (N/s, N/min
or N/hour); --burst how many requests a key may make at once (the bucket's
size, by default the rate's N); --quota a calendar limit per key that resets
at the start of each UTC day or month and survives restarts. A plan without
limits still identifies its callers.`,
		Example: `  mote plans create gold --rate 100/s --burst 200 --quota 1000000/month
  mote plans create free --rate 1/s --quota 1000/day`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.CreatePlan(cmd.Context(), api.Plan{Name: args[0], Rate: f.rate, Burst: f.burst, Quota: f.quota})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Created plan %s: %s\n", p.Name, planLimits(p))
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func plansLsCmd(g *globals) *cobra.Command {
	return listing(g, &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List plans",
		Example: `  mote plans ls
  mote plans ls -o json`,
		Args: cobra.NoArgs,
	}, "NAME\tRATE\tBURST\tQUOTA\tCREATED",
		func(ctx context.Context, c *client.Client, _ []string) ([]api.Plan, error) {
			plans, err := c.Plans(ctx)
			if plans == nil && err == nil {
				plans = []api.Plan{}
			}
			return plans, err
		},
		func(p api.Plan) []string {
			burst := "-"
			if p.Rate != "" {
				burst = strconv.Itoa(effectiveBurst(p))
			}
			return []string{p.Name, orDash(p.Rate), burst, orDash(p.Quota), ago(p.Created)}
		})
}

func plansUpdateCmd(g *globals) *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "update NAME [--rate N/s] [--burst N] [--quota N/day|N/month]",
		Short: "Change a plan's limits; its keys get them at once",
		Long: `Change the limits of a plan. Only the limits given change; give one as ""
to remove it (--quota ''). Removing the rate removes the burst too. Every key
on the plan gets the new limits at once.`,
		Example: `  mote plans update gold --rate 200/s --burst 400
  mote plans update gold --quota ''`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			if !changed("rate") && !changed("burst") && !changed("quota") {
				return fmt.Errorf("nothing to change; Try: mote plans update %s --rate N/s, --burst N or --quota N/day", args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.Plan(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if changed("rate") {
				p.Rate = f.rate
				if f.rate == "" && !changed("burst") {
					p.Burst = 0
				}
			}
			if changed("burst") {
				p.Burst = f.burst
			}
			if changed("quota") {
				p.Quota = f.quota
			}
			p, err = c.UpdatePlan(cmd.Context(), p)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Updated plan %s: %s\n", p.Name, planLimits(p))
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func plansRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove plans no active key uses",
		Long: `Remove plans. A plan that keys which are not revoked still use cannot be
removed: revoke those keys first (mote keys ls shows them).`,
		Example: `  mote plans rm gold`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    removeEach(g, "Removed plan %s", (*client.Client).DeletePlan),
	}
}

// planLimits describes a plan's limits in words.
func planLimits(p api.Plan) string {
	var parts []string
	if p.Rate != "" {
		parts = append(parts, fmt.Sprintf("rate %s, burst %d", p.Rate, effectiveBurst(p)))
	}
	if p.Quota != "" {
		parts = append(parts, "quota "+p.Quota)
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

// effectiveBurst is a plan's burst, its rate's N when Burst is 0.
func effectiveBurst(p api.Plan) int {
	if p.Burst > 0 {
		return p.Burst
	}
	n, _, _ := strings.Cut(p.Rate, "/")
	b, _ := strconv.Atoi(n)
	return b
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
