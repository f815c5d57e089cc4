package admin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/apikey"
	"github.com/mote-run/mote/internal/jwt"
	"github.com/mote-run/mote/internal/ratelimit"
	"github.com/mote-run/mote/internal/store"
)

// API management: plans (POST/GET /v1/plans, GET/PUT/DELETE
// /v1/plans/{name}), API keys (POST/GET /v1/keys, GET/DELETE
// /v1/keys/{id}, POST /v1/keys/{id}/revoke and /rotate) and JWT
// verification keys (PUT/DELETE /v1/jwt-keys/{id}, GET /v1/jwt-keys).
//
// A key's secret exists in one response only, that of create or rotate;
// the store holds its hash. An HS256 secret goes from the request to the
// store and is never returned. Neither ever reaches a log line or an error
// message: errors name ids, fields and rules, never a secret.

// Access limits.
const (
	// MaxRotateGrace is the longest an old secret may keep working after
	// a rotation.
	MaxRotateGrace = 30 * 24 * time.Hour
	// prefixSecretChars is how many characters of the secret a key's
	// Prefix shows after "mk_<id>_": enough to tell two rotations apart,
	// too few to matter (16 of 256 bits).
	prefixSecretChars = 4
	// createKeyTries bounds the retries when a generated id is taken.
	createKeyTries = 3
	// updateKeyTries bounds the retries of a read-modify-write of a key
	// that raced with another writer.
	updateKeyTries = 5
)

// nameRule is the rule for plan, app and service names, as errors state it.
const nameRule = "1-63 characters of a-z, 0-9 and -"

// Hints for the refusals below.
const (
	plansHint   = "list plans with: mote plans ls"
	keysHint    = "list keys with: mote keys ls"
	keyIDHint   = "give the key's ID, as mote keys ls shows it (12 lowercase hex characters), not the key itself"
	jwtKeysHint = "list JWT keys with: mote jwt ls"
)

// validName reports whether s is 1..63 of [a-z0-9-], the rule of service,
// plan and app names.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// badName is the 400 for an invalid name of what ("plan", "app", ...).
func badName(what, name string) *api.Error {
	return api.Errorf(api.CodeBadRequest, "invalid %s name %s: a name is %s", what, showKey(name), nameRule)
}

// ---- plans ----

func (h *handler) createPlan(w http.ResponseWriter, r *http.Request) {
	var p api.Plan
	if err := decodeJSON(w, r, &p); err != nil {
		writeErr(w, err)
		return
	}
	if err := checkPlan(&p); err != nil {
		writeErr(w, err)
		return
	}
	now := time.Now().UTC()
	p.Created, p.Updated = now, now
	if err := h.opts.Store.CreatePlan(r.Context(), p); err != nil {
		if errors.Is(err, store.ErrExists) {
			writeErr(w, &api.Error{Code: api.CodeConflict, Status: http.StatusConflict,
				Message: fmt.Sprintf("plan %s already exists", p.Name),
				Hint:    "change it with: mote plans update " + p.Name})
			return
		}
		writeErr(w, err)
		return
	}
	h.logger.Info("plan created", "plan", p.Name, "rate", p.Rate, "burst", p.Burst, "quota", p.Quota)
	h.applied(r.Context(), func(ix *apikey.Index) bool { q, ok := ix.Plan(p.Name); return ok && q.Updated.Equal(p.Updated) })
	writeJSON(w, http.StatusCreated, p)
}

func (h *handler) listPlans(w http.ResponseWriter, r *http.Request) {
	plans, err := h.opts.Store.Plans(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	if plans == nil {
		plans = []api.Plan{}
	}
	slices.SortFunc(plans, func(a, b api.Plan) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, plans)
}

func (h *handler) getPlan(w http.ResponseWriter, r *http.Request) {
	p, err := h.plan(r.Context(), r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h *handler) updatePlan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var p api.Plan
	if err := decodeJSON(w, r, &p); err != nil {
		writeErr(w, err)
		return
	}
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		writeErr(w, api.Errorf(api.CodeBadRequest, "the body names plan %s but the path plan %s; a plan cannot be renamed", showKey(p.Name), showKey(name)))
		return
	}
	if err := checkPlan(&p); err != nil {
		writeErr(w, err)
		return
	}
	old, err := h.plan(r.Context(), name)
	if err != nil {
		writeErr(w, err)
		return
	}
	p.Created, p.Updated = old.Created, time.Now().UTC()
	if err := h.opts.Store.PutPlan(r.Context(), p); err != nil {
		writeErr(w, err)
		return
	}
	h.logger.Info("plan updated", "plan", p.Name, "rate", p.Rate, "burst", p.Burst, "quota", p.Quota)
	h.applied(r.Context(), func(ix *apikey.Index) bool { q, ok := ix.Plan(p.Name); return ok && q.Updated.Equal(p.Updated) })
	writeJSON(w, http.StatusOK, p)
}

func (h *handler) deletePlan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := h.plan(r.Context(), name); err != nil {
		writeErr(w, err)
		return
	}
	keys, err := h.opts.Store.Keys(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	inUse := 0
	for _, k := range keys {
		if k.Plan == name && k.Revoked == nil {
			inUse++
		}
	}
	if inUse > 0 {
		writeErr(w, &api.Error{Code: api.CodeConflict, Status: http.StatusConflict,
			Message: fmt.Sprintf("plan %s is used by %d %s that %s not revoked", name, inUse, plural(inUse, "key", "keys"), plural(inUse, "is", "are")),
			Hint: "revoke them first (mote keys revoke ID; mote keys ls shows them), or move their apps to another plan: " +
				"create them keys on it (mote keys create --app APP --plan OTHER), then remove these (mote keys rm ID)"})
		return
	}
	if err := h.opts.Store.DeletePlan(r.Context(), name); err != nil {
		writeErr(w, planNotFound(err, name))
		return
	}
	h.logger.Info("plan removed", "plan", name)
	h.applied(r.Context(), func(ix *apikey.Index) bool { _, ok := ix.Plan(name); return !ok })
	w.WriteHeader(http.StatusNoContent)
}

// plan returns the named plan; an unknown or invalid name is an *api.Error.
func (h *handler) plan(ctx context.Context, name string) (api.Plan, error) {
	if !validName(name) {
		return api.Plan{}, badName("plan", name)
	}
	p, err := h.opts.Store.Plan(ctx, name)
	if err != nil {
		return api.Plan{}, planNotFound(err, name)
	}
	return p, nil
}

// planNotFound turns the store's ErrNotFound for a plan into a 404 with
// a hint; other errors pass through.
func planNotFound(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: "no plan named " + name, Hint: plansHint}
	}
	return err
}

// checkPlan validates a plan and puts its rate and quota in canonical
// form. The error names the bad field.
func checkPlan(p *api.Plan) error {
	if !validName(p.Name) {
		return badName("plan", p.Name)
	}
	if p.Rate != "" {
		rate, err := ratelimit.ParseRate(p.Rate)
		if err != nil {
			return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("rate: %v", err), Hint: `a rate is N/s, N/min or N/hour with N ≥ 1, e.g. "100/s"`}
		}
		p.Rate = rate.String()
	}
	switch {
	case p.Burst < 0:
		return api.Errorf(api.CodeBadRequest, "burst: %d is negative; it is how many requests may come at once (0 means the rate's N)", p.Burst)
	case p.Burst > 0 && p.Rate == "":
		return api.Errorf(api.CodeBadRequest, "burst: %d without a rate; a burst is the size of the rate's bucket, so set a rate too", p.Burst)
	}
	if p.Quota != "" {
		q, err := ratelimit.ParseQuota(p.Quota)
		if err != nil {
			return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("quota: %v", err), Hint: `a quota is N/day or N/month with N ≥ 1, e.g. "1000000/month"`}
		}
		p.Quota = q.String()
	}
	return nil
}

// ---- API keys ----

func (h *handler) createKey(w http.ResponseWriter, r *http.Request) {
	var req api.KeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	now := time.Now().UTC()
	if err := checkKeyRequest(req, now); err != nil {
		writeErr(w, err)
		return
	}
	if _, err := h.opts.Store.Plan(r.Context(), req.Plan); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeErr(w, &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
				Message: "no plan named " + req.Plan,
				Hint:    fmt.Sprintf("create it first, e.g.: mote plans create %s --rate 10/s (or list plans with: mote plans ls)", req.Plan)})
			return
		}
		writeErr(w, err)
		return
	}
	var services []string
	if len(req.Services) > 0 {
		services = slices.Compact(slices.Sorted(slices.Values(req.Services)))
	}
	var expires *time.Time
	if req.Expires != nil {
		e := req.Expires.UTC()
		expires = &e
	}
	for try := 1; ; try++ {
		secret, id, hash, err := apikey.Generate()
		if err != nil {
			writeErr(w, api.Errorf(api.CodeInternal, "generate a key: %v", err))
			return
		}
		rec := store.KeyRecord{
			Key: api.Key{ID: id, App: req.App, Plan: req.Plan, Prefix: keyPrefix(secret),
				Services: services, Created: now, Expires: expires},
			Hash: hash,
		}
		err = h.opts.Store.CreateKey(r.Context(), rec)
		if errors.Is(err, store.ErrExists) && try < createKeyTries {
			continue // a 48-bit id collided: draw another
		}
		if err != nil {
			writeErr(w, withoutSecret(err, secret, "the store could not save the new key"))
			return
		}
		h.logger.Info("api key created", "id", id, "app", req.App, "plan", req.Plan)
		h.applied(r.Context(), func(ix *apikey.Index) bool { _, ok := ix.Key(id); return ok })
		writeJSON(w, http.StatusCreated, api.KeySecret{Key: rec.Key, Secret: secret})
		return
	}
}

// checkKeyRequest validates a key request at time now.
func checkKeyRequest(req api.KeyRequest, now time.Time) error {
	if !validName(req.App) {
		return badName("app", req.App)
	}
	if !validName(req.Plan) {
		return badName("plan", req.Plan)
	}
	for _, s := range req.Services {
		if !validName(s) {
			return badName("service", s)
		}
	}
	if req.Expires != nil && !req.Expires.After(now) {
		return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("expires: %s is in the past", req.Expires.UTC().Format(time.RFC3339)),
			Hint:    "give a time in the future, or none for a key that does not expire"}
	}
	return nil
}

// keyPrefix is what a key's listing shows of it: "mk_<id>_" and the
// secret's first characters.
func keyPrefix(secret string) string {
	n := len(apikey.Prefix) + apikey.IDLen + 1 + prefixSecretChars
	if len(secret) < n {
		return ""
	}
	return secret[:n]
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	if app != "" && !validName(app) {
		writeErr(w, badName("app", app))
		return
	}
	recs, err := h.opts.Store.Keys(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	keys := []api.Key{}
	for _, rec := range recs {
		if app == "" || rec.App == app {
			keys = append(keys, rec.Key)
		}
	}
	slices.SortFunc(keys, func(a, b api.Key) int {
		return cmp.Or(strings.Compare(a.App, b.App), a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	writeJSON(w, http.StatusOK, keys)
}

func (h *handler) getKey(w http.ResponseWriter, r *http.Request) {
	rec, _, err := h.key(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec.Key)
}

func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var out api.Key
	err := h.updateKey(r.Context(), id, func(rec *store.KeyRecord, now time.Time) (bool, error) {
		if rec.Revoked != nil {
			out = rec.Key
			return false, nil // already revoked: nothing to write
		}
		rec.Revoked = &now
		rec.PrevHash, rec.PrevUntil = "", nil
		out = rec.Key
		return true, nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	h.logger.Info("api key revoked", "id", id, "app", out.App)
	h.applied(r.Context(), func(ix *apikey.Index) bool { k, ok := ix.Key(id); return !ok || k.Revoked != nil })
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) rotateKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req api.RotateRequest
	// The body is optional: none means no grace.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		writeErr(w, api.Errorf(api.CodeBadRequest, "read the request body: %v", err))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeErr(w, api.Errorf(api.CodeBadRequest, "the request body is not valid JSON for this endpoint: %v", err))
			return
		}
	}
	grace, err := parseGrace(req.Grace)
	if err != nil {
		writeErr(w, err)
		return
	}
	var out api.KeySecret
	err = h.updateKey(r.Context(), id, func(rec *store.KeyRecord, now time.Time) (bool, error) {
		switch rec.State(now) {
		case api.KeyRevoked:
			return false, &api.Error{Code: api.CodeConflict, Status: http.StatusConflict,
				Message: fmt.Sprintf("key %s is revoked and cannot be rotated", id),
				Hint:    fmt.Sprintf("create a new key: mote keys create --app %s --plan %s", rec.App, rec.Plan)}
		case api.KeyExpired:
			return false, &api.Error{Code: api.CodeConflict, Status: http.StatusConflict,
				Message: fmt.Sprintf("key %s expired and cannot be rotated", id),
				Hint:    fmt.Sprintf("create a new key: mote keys create --app %s --plan %s", rec.App, rec.Plan)}
		}
		secret, hash, err := apikey.NewSecret(rec.ID)
		if err != nil {
			return false, api.Errorf(api.CodeInternal, "generate a key: %v", err)
		}
		rec.PrevHash, rec.PrevUntil = "", nil
		if grace > 0 {
			until := now.Add(grace)
			rec.PrevHash, rec.PrevUntil = rec.Hash, &until
		}
		rec.Hash = hash
		rec.Prefix = keyPrefix(secret)
		rec.Rotated = &now
		out = api.KeySecret{Key: rec.Key, Secret: secret}
		return true, nil
	})
	if err != nil {
		writeErr(w, withoutSecret(err, out.Secret, "the store could not save the rotated key"))
		return
	}
	h.logger.Info("api key rotated", "id", id, "app", out.App, "grace", grace.String())
	h.applied(r.Context(), func(ix *apikey.Index) bool { k, ok := ix.Key(id); return !ok || k.Prefix == out.Prefix })
	writeJSON(w, http.StatusOK, out)
}

// parseGrace reads a rotation's grace period: "" is none; at most
// MaxRotateGrace.
func parseGrace(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, api.Errorf(api.CodeBadRequest, "grace: %s is not a duration like 1h or 30m", showKey(s))
	case d < 0:
		return 0, api.Errorf(api.CodeBadRequest, "grace: %s is negative", s)
	case d > MaxRotateGrace:
		return 0, api.Errorf(api.CodeBadRequest, "grace: %s is over the limit of 30 days (720h)", s)
	}
	return d, nil
}

func (h *handler) deleteKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, _, err := h.key(r.Context(), id)
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := h.opts.Store.DeleteKey(r.Context(), id); err != nil {
		writeErr(w, keyNotFound(err, id))
		return
	}
	h.logger.Info("api key removed", "id", id, "app", rec.App)
	h.applied(r.Context(), func(ix *apikey.Index) bool { _, ok := ix.Key(id); return !ok })
	w.WriteHeader(http.StatusNoContent)
}

// key returns the key with id and its revision; an unknown or invalid id
// is an *api.Error. An invalid id is never repeated: it may be a whole key.
func (h *handler) key(ctx context.Context, id string) (store.KeyRecord, uint64, error) {
	if !store.ValidKeyID(id) {
		return store.KeyRecord{}, 0, &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
			Message: "invalid key id: an id is 12 lowercase hex characters", Hint: keyIDHint}
	}
	rec, rev, err := h.opts.Store.Key(ctx, id)
	if err != nil {
		return store.KeyRecord{}, 0, keyNotFound(err, id)
	}
	return rec, rev, nil
}

func keyNotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: "no API key with id " + id, Hint: keysHint}
	}
	return err
}

// updateKey reads key id, lets change modify it and writes it back if
// change says so, retrying when another writer got there first.
func (h *handler) updateKey(ctx context.Context, id string, change func(rec *store.KeyRecord, now time.Time) (bool, error)) error {
	for try := 1; ; try++ {
		rec, rev, err := h.key(ctx, id)
		if err != nil {
			return err
		}
		write, err := change(&rec, time.Now().UTC())
		if err != nil || !write {
			return err
		}
		_, err = h.opts.Store.UpdateKey(ctx, rec, rev)
		if errors.Is(err, store.ErrConflict) && try < updateKeyTries {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			return &api.Error{Code: api.CodeConflict, Status: http.StatusConflict,
				Message: fmt.Sprintf("key %s kept changing while it was being updated", id), Hint: "try again"}
		}
		return keyNotFound(err, id)
	}
}

// withoutSecret returns err, or a generic internal error saying what
// failed when err's text contains secret.
func withoutSecret(err error, secret, what string) error {
	if secret != "" && strings.Contains(err.Error(), secret) {
		return api.Errorf(api.CodeInternal, "%s (the reason is withheld: it quoted a secret)", what)
	}
	return err
}

// ---- JWT keys ----

func (h *handler) putJWTKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req, err := decodeJWTKeyRequest(w, r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !store.ValidJWTKeyID(id) {
		writeErr(w, api.Errorf(api.CodeBadRequest, "invalid JWT key id %s: an id is 1-%d letters, digits, -, _ and .", showKey(id), store.MaxJWTKeyID))
		return
	}
	rec, err := jwtKeyRecord(id, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	rec.Created = time.Now().UTC()
	if old, err := h.jwtKey(r.Context(), id); err == nil {
		rec.Created = old.Created
	}
	if err := h.opts.Store.PutJWTKey(r.Context(), rec); err != nil {
		writeErr(w, withoutSecret(err, req.Secret, "the store could not save the JWT key"))
		return
	}
	h.logger.Info("jwt key set", "id", id, "alg", rec.Alg)
	h.applied(r.Context(), func(ix *apikey.Index) bool {
		k, ok := ix.JWTKey(id)
		return ok && k.Alg == rec.Alg && k.PEM == rec.PEM && k.Secret == rec.Secret && k.Created.Equal(rec.Created)
	})
	writeJSON(w, http.StatusOK, rec.JWTKey)
}

// decodeJWTKeyRequest reads a PUT body. Like decodeConfigRequest, its
// errors never quote the body: it may hold an HS256 secret.
func decodeJWTKeyRequest(w http.ResponseWriter, r *http.Request) (api.JWTKeyRequest, error) {
	var req api.JWTKeyRequest
	err := decodeJSON(w, r, &req)
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeBadRequest {
		return req, &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
			Message: "the request body is not a JWT key request",
			Hint:    `send {"alg": "RS256", "pem": "-----BEGIN PUBLIC KEY-----..."} or {"alg": "HS256", "secret": "..."}`}
	}
	return req, err
}

// jwtKeyRecord validates a request with jwt.ParseKey and returns what to
// store. A public key given as a JWK is stored as PEM, the form JWTKey
// shows.
func jwtKeyRecord(id string, req api.JWTKeyRequest) (store.JWTKeyRecord, error) {
	rec := store.JWTKeyRecord{JWTKey: api.JWTKey{ID: id, Alg: req.Alg}}
	switch req.Alg {
	case "HS256":
		if req.PEM != "" {
			return rec, api.Errorf(api.CodeBadRequest, "pem: HS256 uses a shared secret, not a public key; send it as secret")
		}
		if req.Secret == "" {
			return rec, api.Errorf(api.CodeBadRequest, "secret: HS256 needs a shared secret of at least 32 bytes")
		}
		if _, err := jwt.ParseKey(id, req.Alg, req.Secret); err != nil {
			return rec, &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
				Message: "secret: " + withoutSecret(err, req.Secret, "the HS256 secret is not valid").Error(),
				Hint:    "an HS256 secret is at least 32 bytes"}
		}
		rec.Secret = req.Secret
		return rec, nil
	case "RS256", "ES256":
		if req.Secret != "" {
			return rec, api.Errorf(api.CodeBadRequest, "secret: %s verifies with a public key, which must not be secret; send it as pem", req.Alg)
		}
		if req.PEM == "" {
			return rec, api.Errorf(api.CodeBadRequest, "pem: %s needs a public key (a PEM \"PUBLIC KEY\" block or a JWK)", req.Alg)
		}
		key, err := jwt.ParseKey(id, req.Alg, req.PEM)
		if err != nil {
			return rec, &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("pem: %v", err),
				Hint:    fmt.Sprintf("give the %s public key as a PEM \"PUBLIC KEY\" block (openssl pkey -pubout) or a JWK", req.Alg)}
		}
		rec.PEM = key.PublicPEM()
		return rec, nil
	}
	return rec, api.Errorf(api.CodeBadRequest, "alg: %s is not supported; want HS256, RS256 or ES256", showKey(req.Alg))
}

func (h *handler) listJWTKeys(w http.ResponseWriter, r *http.Request) {
	recs, err := h.opts.Store.JWTKeys(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	keys := make([]api.JWTKey, 0, len(recs))
	for _, rec := range recs {
		keys = append(keys, rec.JWTKey)
	}
	slices.SortFunc(keys, func(a, b api.JWTKey) int { return strings.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, keys)
}

func (h *handler) deleteJWTKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := h.jwtKey(r.Context(), id); err != nil {
		writeErr(w, err)
		return
	}
	if err := h.opts.Store.DeleteJWTKey(r.Context(), id); err != nil {
		writeErr(w, jwtKeyNotFound(err, id))
		return
	}
	h.logger.Info("jwt key removed", "id", id)
	h.applied(r.Context(), func(ix *apikey.Index) bool { _, ok := ix.JWTKey(id); return !ok })
	w.WriteHeader(http.StatusNoContent)
}

// jwtKey returns the JWT key with id; an unknown one is an *api.Error.
func (h *handler) jwtKey(ctx context.Context, id string) (api.JWTKey, error) {
	recs, err := h.opts.Store.JWTKeys(ctx)
	if err != nil {
		return api.JWTKey{}, err
	}
	for _, rec := range recs {
		if rec.ID == id {
			return rec.JWTKey, nil
		}
	}
	return api.JWTKey{}, jwtKeyNotFound(store.ErrNotFound, id)
}

func jwtKeyNotFound(err error, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: "no JWT key with id " + showKey(id), Hint: jwtKeysHint}
	}
	return err
}

// plural picks one or many by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// indexWait bounds how long a change waits for the gateway's key index.
const indexWait = 5 * time.Second

// applied waits until the gateway's key index reflects a change just
// stored (cond holds), so a key works — or a revoked one stops working —
// as soon as the call that made it returns. The change is durable either
// way: if the index is slow, the call still succeeds and says so in the
// node's log.
func (h *handler) applied(ctx context.Context, cond func(*apikey.Index) bool) {
	if h.opts.Keys == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, indexWait)
	defer cancel()
	if err := h.opts.Keys.WaitFor(ctx, cond); err != nil {
		h.logger.Warn("the gateway's key index has not applied a change yet", "err", err)
	}
}
