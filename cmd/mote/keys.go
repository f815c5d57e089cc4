package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, revoke, rotate and remove API keys",
		Long: `An API key identifies an app (a consumer of your services) to the gateway and
gives it its plan's limits. Callers send it as X-API-Key or as
Authorization: Bearer; services whose mote.toml says

  [auth]
  require_key = true

refuse requests without a valid one. mote shows a key once, when it is
created or rotated, and keeps only its hash.`,
		Example: `  KEY=$(mote keys create --app shop --plan gold)
  curl -H "X-API-Key: $KEY" http://127.0.0.1:8080/hello
  mote keys ls --app shop
  mote keys rotate 0123456789ab --grace 1h
  mote keys revoke 0123456789ab`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(keysCreateCmd(g), keysLsCmd(g), keysRevokeCmd(g), keysRotateCmd(g), keysRmCmd(g))
	return cmd
}

func keysCreateCmd(g *globals) *cobra.Command {
	var (
		req     api.KeyRequest
		expires string
		o       output
	)
	cmd := &cobra.Command{
		Use:   "create --app APP --plan PLAN [--service NAME]... [--expires 720h|RFC3339]",
		Short: "Create an API key; it is printed once",
		Long: `Create an API key for an app on a plan. The key is printed on stdout, alone on
its line, and never shown again: store it now. With --service the key works
only for those services; with --expires it stops working after a duration
(720h) or at an RFC 3339 time. -o json prints the key's record with the key
as "secret".`,
		Example: `  KEY=$(mote keys create --app shop --plan gold)
  mote keys create --app shop --plan gold --service hello --service orders --expires 720h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if expires != "" {
				t, err := parseExpires(expires, time.Now())
				if err != nil {
					return err
				}
				req.Expires = &t
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printKey(g, o, k, fmt.Sprintf("Created key %s for app %s on plan %s.", k.ID, k.App, k.Plan))
		},
	}
	cmd.Flags().StringVar(&req.App, "app", "", "the app (consumer) the key belongs to (required)")
	cmd.Flags().StringVar(&req.Plan, "plan", "", "the plan whose limits the key gets (required)")
	cmd.Flags().StringArrayVar(&req.Services, "service", nil, "a service the key works for (repeat it; default: every service)")
	cmd.Flags().StringVar(&expires, "expires", "", "when the key stops working: a duration (720h) or an RFC 3339 time (default: never)")
	_ = cmd.MarkFlagRequired("app")
	_ = cmd.MarkFlagRequired("plan")
	addOutputFlag(cmd, &o)
	return cmd
}

// printKey prints a key that is shown once: the key alone on stdout (or,
// with -o json, its record with the key) and a note on stderr.
func printKey(g *globals, o output, k api.KeySecret, what string) error {
	fmt.Fprintf(g.stderr, "%s This is the only time the key is shown: store it now.\n", what)
	if o == "json" {
		return writeJSON(g.stdout, k)
	}
	_, err := fmt.Fprintln(g.stdout, k.Secret)
	return err
}

// parseExpires reads --expires: a positive duration from now, or an RFC
// 3339 time.
func parseExpires(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--expires %s is not in the future; Try: --expires 720h", s)
		}
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--expires %q is neither a duration (720h) nor an RFC 3339 time (2027-01-02T15:04:05Z); Try: --expires 720h", s)
}

func keysLsCmd(g *globals) *cobra.Command {
	var app string
	cmd := &cobra.Command{
		Use:     "ls [--app APP]",
		Aliases: []string{"list"},
		Short:   "List API keys (never the keys themselves)",
		Long: `List API keys, by app and then age. PREFIX is the start of the key, enough to
recognize it; the key itself is never shown again. STATE is active, expired
or revoked.`,
		Example: `  mote keys ls
  mote keys ls --app shop -o json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&app, "app", "", "only this app's keys")
	return listing(g, cmd, "ID\tAPP\tPLAN\tPREFIX\tSTATE\tCREATED\tEXPIRES",
		func(ctx context.Context, c *client.Client, _ []string) ([]api.Key, error) {
			keys, err := c.Keys(ctx, app)
			if keys == nil && err == nil {
				keys = []api.Key{}
			}
			return keys, err
		},
		func(k api.Key) []string {
			return []string{k.ID, k.App, k.Plan, k.Prefix, k.State(time.Now()), ago(k.Created), expiresCell(k.Expires)}
		})
}

// expiresCell shows an expiry: "never", "in 3d" or "2h ago".
func expiresCell(t *time.Time) string {
	switch {
	case t == nil:
		return "never"
	case time.Until(*t) > 0:
		return "in " + age(time.Now().Add(-time.Until(*t)))
	}
	return ago(*t)
}

func keysRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke API keys: the gateway refuses them from now on",
		Long: `Revoke API keys by ID (as mote keys ls shows it). A revoked key is refused at
once and cannot be rotated; its record stays, listed as revoked, until
mote keys rm.`,
		Example: `  mote keys revoke 0123456789ab`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			for _, id := range args {
				k, err := c.RevokeKey(cmd.Context(), id)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Revoked key %s of app %s\n", k.ID, k.App)
			}
			return nil
		},
	}
}

func keysRotateCmd(g *globals) *cobra.Command {
	var (
		grace time.Duration
		o     output
	)
	cmd := &cobra.Command{
		Use:   "rotate ID [--grace 1h]",
		Short: "Give an API key a new secret; it is printed once",
		Long: `Give an API key a new secret. The key keeps its ID, app, plan and counters;
the new key is printed on stdout, alone on its line, and never shown again.
The old key keeps working for --grace (default 0: it stops at once; at most
720h), time to roll the new one out.`,
		Example: `  KEY=$(mote keys rotate 0123456789ab --grace 1h)`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			k, err := c.RotateKey(cmd.Context(), args[0], grace)
			if err != nil {
				return err
			}
			what := fmt.Sprintf("Rotated key %s of app %s; the old key stopped working.", k.ID, k.App)
			if grace > 0 {
				what = fmt.Sprintf("Rotated key %s of app %s; the old key works for %s more.", k.ID, k.App, grace)
			}
			return printKey(g, o, k, what)
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the old key keeps working (at most 720h)")
	addOutputFlag(cmd, &o)
	return cmd
}

func keysRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID...",
		Aliases: []string{"remove"},
		Short:   "Remove API keys for good",
		Long:    `Remove API keys by ID. Unlike revoke, this leaves no record of the key.`,
		Example: `  mote keys rm 0123456789ab`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    removeEach(g, "Removed key %s", (*client.Client).DeleteKey),
	}
}
