package client

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Environment variables FromEnv and DefaultDataDir read.
const (
	// EnvAddr names the admin API's base URL.
	EnvAddr = "MOTE_ADDR"
	// EnvToken holds the admin token.
	EnvToken = "MOTE_TOKEN"
	// EnvData names the node's data directory.
	EnvData = "MOTE_DATA"
)

// maxTokenFile bounds how much of a token file is read.
const maxTokenFile = 4 << 10

// FromEnv returns a Client configured the way mote's CLI finds a node: the
// address from MOTE_ADDR (DefaultAddr when unset), the token from
// MOTE_TOKEN, else from TokenFile(DefaultDataDir()) when that file is
// readable. opts apply after, so WithAddr and WithToken (with non-empty
// values) override the environment, as flags do.
//
// Only a malformed address is an error (matching ErrInvalidAddr and naming
// MOTE_ADDR when it came from there). A missing token is not: the node
// answers 401, and that *api.Error's Hint says how to get one.
//
//	c, err := client.FromEnv(client.WithAddr(addrFlag), client.WithToken(tokenFlag))
func FromEnv(opts ...Option) (*Client, error) {
	c := &Client{addr: DefaultAddr}
	if a := os.Getenv(EnvAddr); strings.TrimSpace(a) != "" {
		c.addr, c.addrFrom = a, EnvAddr
	}
	if t := strings.TrimSpace(os.Getenv(EnvToken)); t != "" {
		c.token, c.tokenFrom = t, "the token in "+EnvToken
	} else if f := TokenFile(DefaultDataDir()); f != "" {
		if t := readToken(f); t != "" {
			c.token, c.tokenFrom = t, "the token in "+f
		}
	}
	return c.init(opts)
}

// readToken returns the token in file, or "" if it cannot be read.
func readToken(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// DefaultDataDir returns the data directory `mote up` uses when given none:
// $MOTE_DATA if set, else "mote" in the user's data directory —
// $XDG_DATA_HOME or ~/.local/share on Linux and other Unixes,
// ~/Library/Application Support on macOS, %LocalAppData% on Windows. With
// no home directory to be found it is ".mote" in the working directory.
//
//	fmt.Println(client.DefaultDataDir()) // e.g. /home/ana/.local/share/mote
func DefaultDataDir() string {
	if d := os.Getenv(EnvData); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	var base string
	switch runtime.GOOS {
	case "windows":
		base = os.Getenv("LocalAppData")
		if base == "" && home != "" {
			base = filepath.Join(home, "AppData", "Local")
		}
	case "darwin", "ios":
		if home != "" {
			base = filepath.Join(home, "Library", "Application Support")
		}
	default:
		// The XDG spec says a relative path is invalid and to be ignored.
		if x := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
			base = x
		} else if home != "" {
			base = filepath.Join(home, ".local", "share")
		}
	}
	if base == "" {
		return ".mote"
	}
	return filepath.Join(base, "mote")
}

// TokenFile returns where `mote up` writes the admin token in dataDir:
// dataDir/admin.token (mode 0600).
//
//	token, err := os.ReadFile(client.TokenFile(client.DefaultDataDir()))
func TokenFile(dataDir string) string {
	return filepath.Join(dataDir, "admin.token")
}
