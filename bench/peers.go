package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/wagi"
)

// The peers: what a user would compare mote with, each served on loopback
// in the same run as mote.

// bareHandler is the floor: the smallest useful Go HTTP handler.
var bareHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello from Go\nYou asked for "+r.URL.Path+"\n")
})

// serve serves h on a free loopback port and returns its base URL and a
// stop function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// startBare serves the bare hello (kept for -access and the old flags).
func startBare() (string, error) {
	u, _, err := serve(bareHandler)
	return u, err
}

// rawWazero is the sandbox floor: plain wazero, the module compiled once,
// a fresh instance per call with a module config built once (the WAGI
// environment of a typical request preset, stdout to a buffer), with
// interruption by context on as mote has it — no routing, no per-request
// environment, no output parsing beyond finding the body, no memory pool.
type rawWazero struct {
	rt  wazero.Runtime
	cm  wazero.CompiledModule
	cfg wazero.ModuleConfig
	buf sync.Pool
}

func newRawWazero(ctx context.Context, module []byte, pages uint32) (*rawWazero, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(true).WithMemoryLimitPages(pages))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, module)
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	req := &sandbox.Request{
		ID: "0123456789abcdef", Method: "GET", Proto: "HTTP/1.1", Scheme: "http",
		Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:40000", Route: "/hello-c", RawPath: "/world",
		Header:     http.Header{"User-Agent": {"wrk"}},
		ServerName: "127.0.0.1", ServerPort: "8080",
	}
	env := wagi.Env(req, nil)
	cfg := wazero.NewModuleConfig().WithName("").WithSysWalltime().WithSysNanotime().WithArgs(wagi.Args(req)...)
	for i := 0; i+1 < len(env); i += 2 {
		cfg = cfg.WithEnv(env[i], env[i+1])
	}
	r := &rawWazero{rt: rt, cm: cm, cfg: cfg}
	r.buf.New = func() any { return new(bytes.Buffer) }
	return r, nil
}

// run instantiates the module and runs _start, appending stdout to out.
func (r *rawWazero) run(ctx context.Context, out *bytes.Buffer) error {
	mod, err := r.rt.InstantiateModule(ctx, r.cm, r.cfg.WithStdout(out))
	if mod != nil {
		_ = mod.Close(ctx)
	}
	var exit *sys.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 0) {
		return err
	}
	return nil
}

func (r *rawWazero) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	out := r.buf.Get().(*bytes.Buffer)
	defer r.buf.Put(out)
	out.Reset()
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	if err := r.run(ctx, out); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	b := out.Bytes()
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[i+2:]
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(b)
}

func (r *rawWazero) close(ctx context.Context) { r.rt.Close(ctx) }

// findTool returns the path of a program on PATH or in /usr/sbin.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed; Try: apt-get install -y %s", name, name)
}

// proxy is a reverse proxy process (nginx or caddy) in front of the bare
// server.
type proxy struct {
	url string
	cmd *exec.Cmd
	dir string
}

func (p *proxy) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(p.dir)
}

// freePort returns a loopback port nothing listens on (a small race with
// other programs is accepted).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// nginxConfig is a reverse proxy as a user would write it: worker per core,
// keep-alive to the upstream, no access log (mote's gateway keeps metrics,
// not a log file, by default).
const nginxConfig = `worker_processes auto;
daemon off;
master_process on;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 1000000;
  upstream bare {
    server %[2]s;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://bare;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`

// startNginx runs nginx in front of upstream (host:port).
func startNginx(upstream string) (*proxy, error) {
	bin, err := findTool("nginx")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mote-bench-nginx-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConfig, dir, upstream, port), 0o644); err != nil {
		return nil, err
	}
	p := &proxy{url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	p.cmd = exec.Command(bin, "-p", dir, "-c", conf)
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nginx: %w", err)
	}
	if err := waitHTTP(p.url+"/ready", 10*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		p.stop()
		return nil, fmt.Errorf("nginx did not answer: %w\n%s%s", err, stderr.String(), log)
	}
	return p, nil
}

// startCaddy runs caddy in front of upstream (host:port), admin API and
// automatic HTTPS off, default logging (errors only).
func startCaddy(upstream string) (*proxy, error) {
	bin, err := findTool("caddy")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mote-bench-caddy-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "Caddyfile")
	cf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\nhttp://127.0.0.1:%d {\n\treverse_proxy %s\n}\n", port, upstream)
	if err := os.WriteFile(conf, []byte(cf), 0o644); err != nil {
		return nil, err
	}
	p := &proxy{url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir}
	p.cmd = exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("caddy: %w", err)
	}
	if err := waitHTTP(p.url+"/ready", 15*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("caddy did not answer: %w\n%s", err, lastLines(stderr.String(), 10))
	}
	return p, nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return last
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
