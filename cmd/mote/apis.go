package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

func statsCmd(g *globals) *cobra.Command {
	var (
		by    string
		since time.Duration
		o     output
	)
	cmd := &cobra.Command{
		Use:   "stats NAME",
		Short: "Show a service's traffic: requests, rate, errors and latency",
		Long: `Show what a service's gateway saw over a recent window (default the last hour,
at most 24h): requests, requests per second, errors (5xx) and client errors
(4xx), and latency percentiles measured at the gateway. --by splits the
numbers by app (the API key's app; "-" for anonymous callers), version,
route (the OpenAPI path template, "*" without a document) or status class.
The node keeps these in memory: a restart starts them afresh.`,
		Example: `  mote stats hello
  mote stats hello --by app --since 15m
  mote stats hello --by status -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.Stats(cmd.Context(), args[0], since, by)
			if err != nil {
				return err
			}
			if o == "json" {
				return writeJSON(g.stdout, st)
			}
			first := "TOTAL"
			if by != "" {
				first = toUpper(by)
			}
			rows := make([][]string, 0, len(st.Groups))
			for _, gr := range st.Groups {
				key := gr.Key
				if by == "" {
					key = "all"
				}
				rows = append(rows, []string{key, strconv.FormatInt(gr.Requests, 10), fmt.Sprintf("%.2f", gr.RPS),
					strconv.FormatInt(gr.Errors, 10), strconv.FormatInt(gr.ClientErrors, 10),
					ms(gr.P50), ms(gr.P95), ms(gr.P99)})
			}
			fmt.Fprintf(g.stdout, "%s, %s to %s\n", st.Service, st.Since.Local().Format(time.TimeOnly), st.Until.Local().Format(time.TimeOnly))
			return table(g.stdout, first+"\tREQUESTS\tRPS\t5XX\t4XX\tP50\tP95\tP99", rows)
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "split by app, version, route or status")
	cmd.Flags().DurationVar(&since, "since", time.Hour, "how far back to look (1s to 24h)")
	addOutputFlag(cmd, &o)
	return cmd
}

// ms renders a latency in milliseconds with a precision that suits it.
func ms(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	default:
		return fmt.Sprintf("%.0fms", v)
	}
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func docsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "docs [NAME]",
		Short: "List the node's API catalog, or print a service's OpenAPI document",
		Long: `Without NAME, list every service that ships an OpenAPI document ([openapi] in
its mote.toml): the node's API catalog. With NAME, print that service's
document as JSON, its servers set to the service's URL on the gateway, ready
for Swagger UI, Redoc or a client generator.`,
		Example: `  mote docs
  mote docs todo > todo.openapi.json`,
		Args: cobra.MaximumNArgs(1),
	}
	catalog := listing(g, cmd, "SERVICE\tVERSION\tROUTE\tTITLE\tAPI VERSION\tLIFECYCLE\tVALIDATE",
		func(ctx context.Context, c *client.Client, args []string) ([]api.APIDoc, error) { return c.APIs(ctx) },
		func(d api.APIDoc) []string {
			return []string{d.Service, strconv.Itoa(d.Version), d.Route, orDash(d.Title), orDash(d.APIVersion), d.Lifecycle, strconv.FormatBool(d.Validate)}
		})
	list := catalog.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return list(cmd, args)
		}
		c, err := g.client()
		if err != nil {
			return err
		}
		doc, err := c.APIDocument(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, doc, "", "  "); err != nil {
			return fmt.Errorf("the node sent a document that is not JSON: %w", err)
		}
		out.WriteByte('\n')
		_, err = g.stdout.Write(out.Bytes())
		return err
	}
	return cmd
}

func lifecycleCmd(g *globals) *cobra.Command {
	var (
		sunset, link string
		reset        bool
	)
	cmd := &cobra.Command{
		Use:   "lifecycle NAME [draft|published|deprecated|retired]",
		Short: "Set the lifecycle of a service's API",
		Long: `Set the state of a service's API, overriding the [lifecycle] table of the
version it serves (the override outlives deploys; --reset removes it):

  draft        only the operator reaches it (mote invoke); the gateway answers 404
  published    served normally (the default)
  deprecated   served, with Deprecation, Sunset (--sunset) and Link (--link) headers
  retired      the gateway answers 410 Gone`,
		Example: `  mote lifecycle hello deprecated --sunset 2027-06-30 --link https://example.com/migrate
  mote lifecycle hello retired
  mote lifecycle hello --reset`,
		Args: func(cmd *cobra.Command, args []string) error {
			if reset && len(args) == 1 || !reset && len(args) == 2 {
				return nil
			}
			return fmt.Errorf("give a service and a state, or --reset; Try: mote lifecycle NAME deprecated")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var svc api.Service
			if reset {
				svc, err = c.ClearLifecycle(cmd.Context(), args[0])
			} else {
				lc := api.Lifecycle{State: args[1], Link: link}
				if sunset != "" {
					t, err := parseWhen(sunset)
					if err != nil {
						return fmt.Errorf("--sunset: %w", err)
					}
					lc.Sunset = &t
				}
				svc, err = c.SetLifecycle(cmd.Context(), args[0], lc)
			}
			if err != nil {
				return err
			}
			state := "as its manifest says"
			if svc.Lifecycle != nil {
				state = svc.Lifecycle.State
			}
			fmt.Fprintf(g.stdout, "%s is %s\n", svc.Name, state)
			return nil
		},
	}
	cmd.Flags().StringVar(&sunset, "sunset", "", "when the API stops answering: RFC 3339 time or a date (2027-06-30)")
	cmd.Flags().StringVar(&link, "link", "", "a page about the change (sent as Link rel=\"deprecation\")")
	cmd.Flags().BoolVar(&reset, "reset", false, "remove the override: the manifest's [lifecycle] applies")
	return cmd
}

// parseWhen reads an RFC 3339 time or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time; write it like 2027-06-30 or 2027-06-30T12:00:00Z", s)
}
