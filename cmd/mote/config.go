package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

// secretMask stands for a secret's value in `mote config ls`.
const secretMask = "********"

// maxValueCell is how many characters of a value `mote config ls` shows.
const maxValueCell = 60

func configCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Set, list and remove a service's configuration and secrets",
		Long: `Manage the configuration values and secrets of a service. A service reads
them through the config capability, which its mote.toml grants with

  [allow]
  config = true

A secret (set with --secret) is never shown again: not by 'mote config ls',
'mote inspect', the logs or any error; only the service reads it.`,
		Example: `  mote config set api GREETING=hello LIMIT=10
  mote config set api DB_PASSWORD=@password.txt --secret
  mote config ls api
  mote config rm api GREETING`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(configSetCmd(g), configLsCmd(g), configRmCmd(g))
	return cmd
}

func configSetCmd(g *globals) *cobra.Command {
	var secret bool
	cmd := &cobra.Command{
		Use:   "set NAME KEY=VALUE...",
		Short: "Set configuration values or secrets of a service",
		Long: `Set configuration values of a service, replacing any value a key had; keys not
named keep theirs. A VALUE may hold '=': only the first '=' separates the key.

  KEY=@FILE   the value is FILE's content, byte for byte
  KEY=-       the value is read from stdin, less one trailing newline (also KEY=@-)
  KEY=@@TEXT  the value is @TEXT (a literal value starting with @)

With --secret the values are secrets: mote never shows them again.`,
		Example: `  mote config set api GREETING=hello 'WELCOME=Hi, there'
  mote config set api DB_PASSWORD=@password.txt --secret
  echo "$TOKEN" | mote config set api TOKEN=- --secret`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("give a service and at least one KEY=VALUE; Try: mote config set NAME KEY=VALUE...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			values, err := parseConfigArgs(args[1:], secret, g.stdin)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetConfig(cmd.Context(), args[0], values, secret); err != nil {
				return err
			}
			keys := slices.Sorted(maps.Keys(values))
			what := "Set"
			if secret {
				what = "Set secret"
			}
			fmt.Fprintf(g.stdout, "%s %s on %s\n", what, strings.Join(keys, ", "), args[0])
			if !secret {
				for _, k := range keys {
					if looksSecret(k) {
						fmt.Fprintf(g.stderr, "Note: %s looks like a secret but was set as a plain value, which 'mote config ls' shows; set it again with --secret to hide it\n", k)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&secret, "secret", false, "the values are secrets: never shown again, only the service reads them")
	return cmd
}

func configLsCmd(g *globals) *cobra.Command {
	return listing(g, &cobra.Command{
		Use:     "ls NAME",
		Aliases: []string{"list"},
		Short:   "List a service's configuration; secrets show as " + secretMask,
		Long: `List a service's configuration values, sorted by key. A secret's value is
never shown: the table shows ` + secretMask + `, and -o json an empty value with
"secret": true. The table shortens long values; -o json has them whole.`,
		Example: `  mote config ls api
  mote config ls api -o json`,
		Args: cobra.ExactArgs(1),
	}, "KEY\tVALUE\tSECRET\tUPDATED",
		func(ctx context.Context, c *client.Client, args []string) ([]api.ConfigEntry, error) {
			entries, err := c.Config(ctx, args[0])
			if entries == nil && err == nil {
				entries = []api.ConfigEntry{}
			}
			return entries, err
		},
		func(e api.ConfigEntry) []string {
			v := valueCell(e.Value)
			if e.Secret {
				v = secretMask
			}
			return []string{e.Key, v, strconv.FormatBool(e.Secret), ago(e.Updated)}
		})
}

func configRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME KEY...",
		Aliases: []string{"remove", "unset"},
		Short:   "Remove configuration values or secrets of a service",
		Example: `  mote config rm api GREETING
  mote config rm api DB_PASSWORD TOKEN`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return fmt.Errorf("give a service and at least one KEY; Try: mote config rm NAME KEY...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			name := args[0]
			for _, key := range args[1:] {
				if err := c.DeleteConfig(cmd.Context(), name, key); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Removed %s from %s\n", key, name)
			}
			return nil
		},
	}
}

// parseConfigArgs turns KEY=VALUE arguments into values, reading @FILE and
// - (stdin) values. No error holds a value when secret is set: a mistyped
// argument may be the secret itself.
func parseConfigArgs(args []string, secret bool, stdin io.Reader) (map[string]string, error) {
	values := make(map[string]string, len(args))
	usedStdin := ""
	for i, arg := range args {
		// shown names the argument in errors without showing a secret.
		shown := strconv.Quote(arg)
		if secret {
			shown = fmt.Sprintf("argument %d after the service name", i+1)
		}
		key, value, ok := strings.Cut(arg, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s is not KEY=VALUE; Try: mote config set NAME KEY=VALUE...", shown)
		case key == "":
			return nil, fmt.Errorf("%s has no key before the '='; Try: mote config set NAME KEY=VALUE...", shown)
		}
		if _, dup := values[key]; dup {
			return nil, fmt.Errorf("%s is given twice; Try: give each key once", key)
		}
		switch {
		case value == "-" || value == "@-":
			if usedStdin != "" {
				return nil, fmt.Errorf("%s and %s both read stdin; Try: read one value from stdin and the others from files (KEY=@FILE)", usedStdin, key)
			}
			usedStdin = key
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("%s: read stdin: %w", key, err)
			}
			value = string(b)
			if v, ok := strings.CutSuffix(value, "\n"); ok {
				value = strings.TrimSuffix(v, "\r")
			}
		case strings.HasPrefix(value, "@@"):
			value = value[1:]
		case strings.HasPrefix(value, "@"):
			b, err := os.ReadFile(value[1:])
			if err != nil {
				if secret {
					// The "file name" may be a secret that starts with @.
					return nil, fmt.Errorf("%s: cannot read the file its value names (a value starting with @ names a file); Try: write @@ for a value that starts with @", key)
				}
				return nil, fmt.Errorf("%s: %w; Try: write @@ for a value that starts with @", key, err)
			}
			value = string(b)
		}
		values[key] = value
	}
	return values, nil
}

// looksSecret reports whether a key's name suggests a secret.
func looksSecret(key string) bool {
	k := strings.ToUpper(key)
	for _, w := range []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "PRIVATE", "CREDENTIAL", "API_KEY", "APIKEY"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// valueCell renders a value for a table cell: shortened to maxValueCell
// characters, and quoted when it is empty, has spaces at its ends or holds
// characters a terminal would not print as they are.
func valueCell(v string) string {
	cut := false
	if utf8.RuneCountInString(v) > maxValueCell {
		v, cut = string([]rune(v)[:maxValueCell]), true
	}
	if v == "" || strings.TrimSpace(v) != v || !utf8.ValidString(v) ||
		strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) {
		v = strconv.Quote(v)
	}
	if cut {
		v += "..."
	}
	return v
}
