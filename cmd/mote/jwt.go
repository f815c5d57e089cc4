package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

func jwtCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwt",
		Short: "Add, list and remove the keys that verify JSON Web Tokens",
		Long: `The gateway verifies the JSON Web Tokens of services whose mote.toml has an
[auth.jwt] table with these keys: a token names its key by "kid" and must be
signed with exactly the key's algorithm. RS256 and ES256 keys are public keys
(a PEM "PUBLIC KEY" block or a JWK); an HS256 key is a shared secret of at
least 32 bytes, read from a file so that it never lands in shell history,
and never shown again.`,
		Example: `  mote jwt add auth-2026 --alg RS256 --pem public.pem
  mote jwt add legacy --alg HS256 --secret-file hs256.secret
  mote jwt ls
  mote jwt rm legacy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(jwtAddCmd(g), jwtLsCmd(g), jwtRmCmd(g))
	return cmd
}

func jwtAddCmd(g *globals) *cobra.Command {
	var alg, pemFile, secretFile string
	cmd := &cobra.Command{
		Use:   "add ID --alg RS256|ES256 --pem FILE | --alg HS256 --secret-file FILE",
		Short: "Add or replace a JWT verification key",
		Long: `Add the key that verifies tokens whose "kid" is ID, or replace it. For RS256
and ES256, --pem names a file holding the public key (a PEM "PUBLIC KEY"
block, or a JWK). For HS256, --secret-file names a file holding the shared
secret, at least 32 bytes; one trailing newline is not part of it. FILE "-"
reads stdin. There is no flag that takes a secret itself: it would stay in
your shell's history.`,
		Example: `  openssl pkey -in private.pem -pubout > public.pem
  mote jwt add auth-2026 --alg RS256 --pem public.pem
  mote jwt add legacy --alg HS256 --secret-file hs256.secret
  vault read -field=secret auth/hs | mote jwt add legacy --alg HS256 --secret-file -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.JWTKeyRequest{Alg: strings.ToUpper(alg)}
			switch req.Alg {
			case "HS256":
				if pemFile != "" {
					return fmt.Errorf("--pem is for RS256 and ES256 public keys; Try: --alg HS256 --secret-file FILE")
				}
				if secretFile == "" {
					return fmt.Errorf("HS256 needs its shared secret; Try: mote jwt add %s --alg HS256 --secret-file FILE", args[0])
				}
				b, err := readInput(secretFile, g.stdin)
				if err != nil {
					// The error names the file, never its content.
					return fmt.Errorf("--secret-file: %w", err)
				}
				req.Secret = trimNewline(string(b))
			case "RS256", "ES256":
				if secretFile != "" {
					return fmt.Errorf("--secret-file is for HS256 shared secrets; %s verifies with a public key; Try: --alg %s --pem FILE", req.Alg, req.Alg)
				}
				if pemFile == "" {
					return fmt.Errorf("%s needs a public key; Try: mote jwt add %s --alg %s --pem FILE", req.Alg, args[0], req.Alg)
				}
				b, err := readInput(pemFile, g.stdin)
				if err != nil {
					return fmt.Errorf("--pem: %w", err)
				}
				req.PEM = string(b)
			default:
				return fmt.Errorf("--alg %q: want RS256, ES256 or HS256; Try: mote jwt add %s --alg RS256 --pem FILE", alg, args[0])
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			k, err := c.PutJWTKey(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Added JWT key %s (%s)\n", k.ID, k.Alg)
			return nil
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "", "the signature algorithm: RS256, ES256 or HS256 (required)")
	cmd.Flags().StringVar(&pemFile, "pem", "", "RS256/ES256: a file with the public key (PEM or JWK); - for stdin")
	cmd.Flags().StringVar(&secretFile, "secret-file", "", "HS256: a file with the shared secret; - for stdin")
	_ = cmd.MarkFlagRequired("alg")
	return cmd
}

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return b, nil
	}
	return os.ReadFile(name)
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		return strings.TrimSuffix(t, "\r")
	}
	return s
}

func jwtLsCmd(g *globals) *cobra.Command {
	return listing(g, &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List JWT verification keys (never an HS256 secret)",
		Long: `List JWT verification keys. -o json includes RS256 and ES256 public keys as
PEM; an HS256 secret is never shown.`,
		Example: `  mote jwt ls
  mote jwt ls -o json`,
		Args: cobra.NoArgs,
	}, "ID\tALG\tCREATED",
		func(ctx context.Context, c *client.Client, _ []string) ([]api.JWTKey, error) {
			keys, err := c.JWTKeys(ctx)
			if keys == nil && err == nil {
				keys = []api.JWTKey{}
			}
			return keys, err
		},
		func(k api.JWTKey) []string { return []string{k.ID, k.Alg, ago(k.Created)} })
}

func jwtRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID...",
		Aliases: []string{"remove"},
		Short:   "Remove JWT verification keys",
		Example: `  mote jwt rm legacy`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    removeEach(g, "Removed JWT key %s", (*client.Client).DeleteJWTKey),
	}
}
