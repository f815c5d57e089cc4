package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

// Deploy a service from a directory holding mote.toml and hello.wasm.
func ExampleClient_Deploy() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	manifest, err := os.ReadFile("hello/mote.toml")
	if err != nil {
		log.Fatal(err)
	}
	module, err := os.ReadFile("hello/hello.wasm")
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Deploy(ctx, client.Package{Manifest: manifest, Module: module},
		client.OnBlob(func(b client.BlobEvent) {
			if b.Uploaded {
				fmt.Printf("uploaded %s (%d bytes)\n", b.Digest[:19], b.Size)
			}
		}))
	var apiErr *api.Error
	switch {
	case errors.Is(err, client.ErrUnreachable):
		log.Fatal(err) // says to run `mote up` or set MOTE_ADDR
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeInvalidManifest:
		for _, d := range apiErr.Details {
			fmt.Println("mote.toml:", d)
		}
		os.Exit(1)
	case err != nil:
		log.Fatal(err)
	case res.Unchanged:
		fmt.Printf("%s is unchanged at version %d\n", res.Service.Name, res.Version.Number)
	default:
		fmt.Printf("%s version %d serves %s\n", res.Service.Name, res.Version.Number, res.Service.URL)
	}
}

// Follow a service's logs for a minute.
func ExampleClient_Logs() {
	c, err := client.New("127.0.0.1:8081", client.WithToken(os.Getenv("MOTE_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for e, err := range c.Logs(ctx, "hello", client.LogOptions{Tail: 20, Follow: true}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Time.Format(time.TimeOnly), e.Stream, e.Message)
	}
}

// Call a service and tell mote's errors from the service's own answers.
func ExampleClient_Invoke() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Invoke(context.Background(), "hello", client.InvokeRequest{
		Method: http.MethodPost,
		Path:   "/greet?lang=en",
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   strings.NewReader(`{"name":"Ana"}`),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if e := client.ResponseError(resp); e != nil {
		log.Fatalf("mote: %v (request %s)", e, resp.Header.Get("X-Request-Id"))
	}
	fmt.Println(resp.Status)
	_, _ = io.Copy(os.Stdout, resp.Body)
}

// Give a service a setting and a secret, then list its configuration. The
// service reads both through the config capability; the listing never shows
// the secret.
func ExampleClient_SetConfig() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	if err := c.SetConfig(ctx, "api", map[string]string{"GREETING": "hello"}, false); err != nil {
		log.Fatal(err)
	}
	if err := c.SetConfig(ctx, "api", map[string]string{"DB_PASSWORD": os.Getenv("DB_PASSWORD")}, true); err != nil {
		log.Fatal(err)
	}
	entries, err := c.Config(ctx, "api")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		if e.Secret {
			fmt.Println(e.Key, "(secret)")
			continue
		}
		fmt.Println(e.Key, "=", e.Value)
	}
	// Remove the setting again; an unknown key is a not_found *api.Error.
	var apiErr *api.Error
	if err := c.DeleteConfig(ctx, "api", "GREETING"); errors.As(err, &apiErr) && apiErr.Code == api.CodeNotFound {
		fmt.Println("already gone")
	}
}
