package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/scaffold"
)

func newCmd(g *globals) *cobra.Command {
	var lang, dir string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a new service from a template",
		Long: `Create a directory NAME holding a service that builds and deploys as-is: its
source, a mote.toml with a [build] command, a README and a .gitignore.`,
		Example: `  mote new hello --lang go && cd hello && mote deploy
  mote new hello-c --lang c`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			target := dir
			if target == "" {
				target = name
			}
			if err := scaffold.Create(target, name, lang); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Created %s (%s) in %s\n\nNext:\n  cd %s\n  mote deploy\n  curl http://127.0.0.1:8080/%s\n", name, lang, target, target, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "go", "language of the template: "+strings.Join(scaffold.Langs(), " or "))
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default NAME)")
	return cmd
}

func parseMemory(s string) (uint64, error) {
	b, err := manifest.ParseByteSize(s)
	if err != nil {
		return 0, fmt.Errorf("--memory: %w", err)
	}
	return uint64(b), nil
}
