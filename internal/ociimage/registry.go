package ociimage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Bounds on registry answers other than blobs.
const (
	maxTokenResponse = 1 << 20
	maxErrorBody     = 64 << 10
)

// acceptManifests is the Accept header of manifest requests.
var acceptManifests = strings.Join([]string{
	MediaTypeImageManifest, MediaTypeImageIndex,
	MediaTypeDockerManifest, MediaTypeDockerManifestList,
}, ", ")

// registry pulls from one repository of a registry; it is a source.
type registry struct {
	client    *http.Client
	base      string // "https://ghcr.io/v2/owner/app"
	ref       Reference
	creds     func(host string) (user, pass string, ok bool)
	plainHTTP func(host string) bool

	mu   sync.Mutex
	auth string // the Authorization header to send; "" for none
}

// pull resolves a registry reference.
func pull(ctx context.Context, r Reference, opts ResolveOptions) (*Image, error) {
	reg := &registry{client: opts.HTTPClient, ref: r, creds: opts.Credentials, plainHTTP: opts.PlainHTTP}
	if reg.client == nil {
		reg.client = http.DefaultClient
	}
	if reg.plainHTTP == nil {
		reg.plainHTTP = plainHTTPDefault
	}
	scheme := "https"
	if reg.plainHTTP(r.Host) {
		scheme = "http"
	}
	endpoint := r.Host
	if endpoint == DockerHub {
		endpoint = dockerHubAPI
	}
	reg.base = scheme + "://" + endpoint + "/v2/" + r.Repo
	tagOrDigest := r.Tag
	if r.Digest != "" {
		tagOrDigest = r.Digest
	}
	resp, err := reg.get(ctx, "/manifests/"+tagOrDigest, acceptManifests)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, reg.statusError(resp, "manifest "+tagOrDigest)
	}
	if resp.ContentLength > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest %s is %d bytes, over the %d MiB limit", ErrInvalid, tagOrDigest, resp.ContentLength, MaxManifestSize>>20)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read manifest %s: %w", ErrRegistry, tagOrDigest, err)
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest %s is over the %d MiB limit", ErrInvalid, tagOrDigest, MaxManifestSize>>20)
	}
	digest := DigestOf(b)
	if r.Digest != "" && digest != r.Digest {
		return nil, fmt.Errorf("%w: the registry sent a manifest whose digest is %s for %s; the registry or a proxy is broken, try again", ErrDigest, digest, r.Digest)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); ValidDigest(h) && h != digest {
		return nil, fmt.Errorf("%w: the registry says manifest %s is %s but its content is %s; try again", ErrDigest, tagOrDigest, h, digest)
	}
	hint := "the index does not say which platform each is for; pin one by digest (REPO@sha256:...)"
	return resolveBytes(ctx, reg, manifestKind(resp.Header.Get("Content-Type"), b), b, digest, opts.Platform, hint, 0)
}

// manifestKind returns the media type of a manifest or index: the one in
// the document, else the Content-Type, else guessed from its fields.
func manifestKind(contentType string, b []byte) string {
	var probe struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(b, &probe) // the parsers report what is wrong
	if probe.MediaType != "" {
		return probe.MediaType
	}
	if probe.SchemaVersion == 1 {
		return MediaTypeDockerSchema1
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && (isIndexType(mt) || isManifestType(mt) || isSchema1(mt)) {
		return mt
	}
	if probe.Manifests != nil {
		return MediaTypeImageIndex
	}
	return MediaTypeImageManifest
}

func (reg *registry) manifest(ctx context.Context, d Descriptor) ([]byte, error) {
	if d.Size > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest %s is %d bytes, over the %d MiB limit", ErrInvalid, d.Digest, d.Size, MaxManifestSize>>20)
	}
	resp, err := reg.get(ctx, "/manifests/"+d.Digest, acceptManifests)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, reg.statusError(resp, "manifest "+d.Digest)
	}
	return readVerified(resp.Body, d, "manifest", MaxManifestSize)
}

func (reg *registry) blob(ctx context.Context, d Descriptor) (io.ReadCloser, error) {
	resp, err := reg.get(ctx, "/blobs/"+d.Digest, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, reg.statusError(resp, "blob "+d.Digest)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != d.Size {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: blob %s is %d bytes, its descriptor says %d; push the image again", ErrDigest, d.Digest, resp.ContentLength, d.Size)
	}
	return resp.Body, nil
}

// get sends a GET to reg.base+p, authenticating when the registry answers
// 401 with a challenge, and returns the response whatever its status.
func (reg *registry) get(ctx context.Context, p, accept string) (*http.Response, error) {
	u := reg.base + p
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		reg.mu.Lock()
		auth := reg.auth
		reg.mu.Unlock()
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := reg.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: GET %s: %w", ErrRegistry, u, err)
		}
		if resp.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return resp, nil
		}
		challenges := resp.Header.Values("WWW-Authenticate")
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if err := reg.authenticate(ctx, challenges, auth); err != nil {
			return nil, err
		}
	}
}

// authenticate answers a 401's challenges: it gets a bearer token, or
// sets basic credentials. sent is the Authorization header refused.
func (reg *registry) authenticate(ctx context.Context, challenges []string, sent string) error {
	user, pass, haveCreds := "", "", false
	if reg.creds != nil {
		user, pass, haveCreds = reg.creds(reg.ref.Host)
	}
	var basic bool
	for _, c := range challenges {
		scheme, params := parseChallenge(c)
		switch scheme {
		case "bearer":
			token, err := reg.token(ctx, params, user, pass, haveCreds)
			if err != nil {
				return err
			}
			reg.setAuth("Bearer " + token)
			return nil
		case "basic":
			basic = true
		}
	}
	if !basic {
		return fmt.Errorf("%w: %s answered 401 without a Bearer or Basic challenge (%s); it is not a registry mote can log in to", ErrAuth, reg.ref.Host, quote(strings.Join(challenges, "; ")))
	}
	if !haveCreds {
		return fmt.Errorf("%w: %s asks for a user name and password for %s; give credentials for %s", ErrAuth, reg.ref.Host, reg.ref.Repo, reg.ref.Host)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	if auth == sent {
		return fmt.Errorf("%w: %s refused the credentials for %s; check the user name and password", ErrAuth, reg.ref.Host, reg.ref.Repo)
	}
	reg.setAuth(auth)
	return nil
}

func (reg *registry) setAuth(a string) {
	reg.mu.Lock()
	reg.auth = a
	reg.mu.Unlock()
}

// token fetches a bearer token from the challenge's realm (the
// distribution token protocol), sending basic credentials when there are
// some.
func (reg *registry) token(ctx context.Context, params map[string]string, user, pass string, haveCreds bool) (string, error) {
	realm, err := url.Parse(params["realm"])
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("%w: %s's token realm %s is not an http(s) URL", ErrAuth, reg.ref.Host, quote(params["realm"]))
	}
	if realm.Scheme == "http" && !reg.plainHTTP(realm.Host) {
		return "", fmt.Errorf("%w: %s's token realm %s is plain http; mote sends credentials only over https (or to a host PlainHTTP allows)", ErrAuth, reg.ref.Host, quote(params["realm"]))
	}
	q := realm.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	scope := params["scope"]
	if scope == "" {
		scope = "repository:" + reg.ref.Repo + ":pull"
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if haveCreds {
		req.SetBasicAuth(user, pass)
	}
	resp, err := reg.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: get a token from %s: %w", ErrAuth, realm.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return "", fmt.Errorf("%w: get a token from %s: %w", ErrAuth, realm.Host, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && haveCreds:
		return "", fmt.Errorf("%w: %s refused the credentials for %s (%s); check the user name and password", ErrAuth, realm.Host, reg.ref.Repo, resp.Status)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", fmt.Errorf("%w: %s gives no anonymous access to %s (%s); give credentials for %s, or check the name", ErrAuth, realm.Host, reg.ref.Repo, resp.Status, reg.ref.Host)
	default:
		return "", fmt.Errorf("%w: token from %s: %s", ErrAuth, realm.Host, resp.Status)
	}
	if len(b) > maxTokenResponse {
		return "", fmt.Errorf("%w: token from %s is over %d bytes", ErrAuth, realm.Host, maxTokenResponse)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		return "", fmt.Errorf("%w: token from %s is not JSON: %v", ErrAuth, realm.Host, err)
	}
	t := tr.Token
	if t == "" {
		t = tr.AccessToken
	}
	if t == "" || strings.ContainsAny(t, "\r\n") {
		return "", fmt.Errorf("%w: %s sent no usable token", ErrAuth, realm.Host)
	}
	return t, nil
}

// statusError turns a response that is not 200 into an error naming what
// was asked for, with the registry's own error codes and messages.
func (reg *registry) statusError(resp *http.Response, what string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	detail := resp.Status
	if json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
		var parts []string
		for _, e := range body.Errors[:min(len(body.Errors), 3)] {
			parts = append(parts, strings.TrimSpace(e.Code+" "+e.Message))
		}
		detail = quote(strings.Join(parts, "; "))
	}
	name := reg.ref.Host + "/" + reg.ref.Repo
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s has no %s (%s); check the repository, tag and digest", ErrNotFound, name, what, detail)
	case http.StatusUnauthorized, http.StatusForbidden:
		reg.mu.Lock()
		sent := reg.auth != ""
		reg.mu.Unlock()
		if sent {
			return fmt.Errorf("%w: %s refused access to %s (%s); check the credentials, and that the repository exists", ErrAuth, name, what, detail)
		}
		return fmt.Errorf("%w: %s refused anonymous access to %s (%s); give credentials for %s", ErrAuth, name, what, detail, reg.ref.Host)
	case http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s: too many requests (%s); wait and try again, or log in for a higher pull limit", ErrRegistry, name, detail)
	}
	return fmt.Errorf("%w: %s: %s answered %s", ErrRegistry, name, what, detail)
}

// parseChallenge parses a WWW-Authenticate value: a scheme (returned
// lowercase) and comma-separated key=value parameters whose values may be
// quoted strings. Malformed parameters are skipped.
func parseChallenge(s string) (scheme string, params map[string]string) {
	s = strings.TrimSpace(s)
	scheme, rest, _ := strings.Cut(s, " ")
	params = map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return strings.ToLower(scheme), params
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return strings.ToLower(scheme), params
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			val = b.String()
			rest = rest[min(i+1, len(rest)):]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		params[key] = val
	}
}
