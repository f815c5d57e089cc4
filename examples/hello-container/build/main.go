// Command build packs the hello-container server into an OCI image layout
// without Docker: it compiles the server as a static Linux binary
// (CGO_ENABLED=0 GOOS=linux, -trimpath -ldflags="-s -w") and writes a
// one-layer image with ociimage.Build: the binary at /hello, run as
// 65532:65532 with PATH=/ and port 8080/tcp exposed.
//
// Usage, from anywhere inside mote's module:
//
//	go run ./examples/hello-container/build [-o DIR] [-arch GOARCH]
//
// DIR defaults to the example's image directory
// (examples/hello-container/image); a layout already there is replaced,
// anything else is left alone and is an error. GOARCH defaults to this
// machine's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mote-run/mote/internal/ociimage"
)

// serverPkg is the server's import path.
const serverPkg = "github.com/mote-run/mote/examples/hello-container"

func main() {
	out := flag.String("o", "", "write the image layout to `DIR` (default: the example's image directory)")
	arch := flag.String("arch", runtime.GOARCH, "build the image for linux/`GOARCH`")
	flag.Parse()
	b, dir, err := run(context.Background(), *out, *arch)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote image %s (linux/%s, %d-byte layer) to %s\n", b.Digest, *arch, len(b.Layer), dir)
}

// run builds the image for linux/arch and writes it as a layout in out
// ("" for the default); it returns the image and the directory written.
func run(ctx context.Context, out, arch string) (*ociimage.Built, string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, "", fmt.Errorf("no go command on PATH: %w", err)
	}
	if out == "" {
		src, err := exec.CommandContext(ctx, goTool, "list", "-f", "{{.Dir}}", serverPkg).Output()
		if err != nil {
			return nil, "", fmt.Errorf("find %s (run this inside mote's module, or pass -o): %w", serverPkg, err)
		}
		out = filepath.Join(strings.TrimSpace(string(src)), "image")
	}
	if err := checkOut(out); err != nil {
		return nil, "", err
	}
	bin, err := compile(ctx, goTool, arch)
	if err != nil {
		return nil, "", err
	}
	b, err := pack(bin, arch, out)
	return b, out, err
}

// pack writes the image of the server binary bin, for linux/arch, as a
// layout in out, replacing the layout there.
func pack(bin []byte, arch, out string) (*ociimage.Built, error) {
	b, err := ociimage.Build(
		[]ociimage.File{{Path: "/hello", Mode: 0o755, Data: bin}},
		ociimage.ContainerConfig{
			User:         "65532:65532",
			Env:          []string{"PATH=/"},
			Entrypoint:   []string{"/hello"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		},
		ociimage.Platform{OS: "linux", Architecture: arch},
	)
	if err != nil {
		return nil, err
	}
	if err := checkOut(out); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	if err := b.WriteLayout(out); err != nil {
		return nil, err
	}
	return b, nil
}

// compile builds the server for linux/arch and returns the binary.
func compile(ctx context.Context, goTool, arch string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "hello-container-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "hello")
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, serverPkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s for linux/%s: %w", serverPkg, arch, err)
	}
	return os.ReadFile(bin)
}

// checkOut returns nil when out may be written: it does not exist, is
// empty or holds an image layout (which is replaced).
func checkOut(out string) error {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(out, "oci-layout")); err != nil {
		return fmt.Errorf("%s exists and is not an OCI image layout; remove it or pass another -o", out)
	}
	return nil
}
