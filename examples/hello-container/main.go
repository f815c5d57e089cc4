// Command hello-container is a tiny HTTP server that mote runs as a
// container: go run ./build packs it, without Docker, into the OCI image
// layout ./image that mote.toml names.
//
// It listens on 127.0.0.1:$PORT (default 8080), inside the container's own
// network namespace where mote dials it, and answers any path with "hello
// from a container" and the path (mote passes the full path, route
// included: /hello-container/...). On SIGTERM it stops accepting
// connections, lets requests in flight finish, and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownGrace bounds how long requests in flight may take to finish
// after SIGTERM; mote kills the container a little later (its grace
// period, 10 s by default).
const shutdownGrace = 8 * time.Second

func main() {
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", ln.Addr())
	if err := serve(ctx, ln, handler()); err != nil {
		log.Fatal(err)
	}
	log.Print("stopped")
}

// handler answers every request with a greeting and the path asked for.
func handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello from a container\nyou asked for %s\n", r.URL.Path)
	})
}

// serve serves h on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Print("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
