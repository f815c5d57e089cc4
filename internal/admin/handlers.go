package admin

import (
	"bufio"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/control"
	"github.com/mote-run/mote/internal/store"
)

func (h *handler) headBlob(w http.ResponseWriter, r *http.Request) {
	info, err := h.opts.Store.BlobInfo(r.Context(), r.PathValue("digest"))
	switch {
	case err == nil:
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, store.ErrNotFound):
		w.WriteHeader(http.StatusNotFound)
	case errors.Is(err, store.ErrInvalidDigest):
		w.WriteHeader(http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func (h *handler) putBlob(w http.ResponseWriter, r *http.Request) {
	digest := r.PathValue("digest")
	if info, err := h.opts.Store.BlobInfo(r.Context(), digest); err == nil {
		writeJSON(w, http.StatusOK, info)
		return
	}
	if limit := h.opts.Store.MaxBlobSize(); r.ContentLength > limit {
		// Refuse before reading: the body would be thrown away anyway.
		w.Header().Set("Connection", "close")
		writeErr(w, api.Errorf(api.CodeBodyTooLarge, "the blob is %d bytes, over the node's limit of %d bytes", r.ContentLength, limit))
		return
	}
	info, err := h.opts.Store.PutBlob(r.Context(), digest, r.Body)
	if err != nil {
		if errors.Is(err, store.ErrDigestMismatch) {
			writeErr(w, &api.Error{Code: api.CodeBadRequest, Status: 400, Message: err.Error(),
				Hint: "the digest in the URL must be the sha256 of the body; the upload may have been cut short"})
			return
		}
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (h *handler) deploy(w http.ResponseWriter, r *http.Request) {
	var req api.DeployRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	res, err := h.opts.Control.Deploy(r.Context(), req)
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusCreated
	if res.Unchanged {
		status = http.StatusOK
	}
	writeJSON(w, status, res)
}

func (h *handler) listServices(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.opts.Store.Services(r.Context())
	if err != nil {
		writeErr(w, err)
		return
	}
	for i := range svcs {
		svcs[i].URL = h.url(svcs[i].Route)
	}
	if svcs == nil {
		svcs = []api.Service{}
	}
	writeJSON(w, http.StatusOK, svcs)
}

func (h *handler) getService(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	svc, _, err := h.opts.Store.Service(r.Context(), name)
	if err != nil {
		writeErr(w, notFound(err, name))
		return
	}
	versions, err := h.opts.Store.Versions(r.Context(), name)
	if err != nil {
		writeErr(w, err)
		return
	}
	svc.URL = h.url(svc.Route)
	versions = control.Acknowledged(svc, versions)
	writeJSON(w, http.StatusOK, api.ServiceDetail{Service: svc, Versions: versions, Instances: h.opts.Control.Instances(name)})
}

func (h *handler) deleteService(w http.ResponseWriter, r *http.Request) {
	if err := h.opts.Control.Remove(r.Context(), r.PathValue("name")); err != nil {
		writeErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listVersions(w http.ResponseWriter, r *http.Request) {
	versions, err := h.opts.Control.Versions(r.Context(), r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, versions)
}

func (h *handler) instances(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.opts.Control.Instances(r.URL.Query().Get("service")))
}

// logs streams a service's log entries as NDJSON.
func (h *handler) logs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	var lq store.LogQuery
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErr(w, api.Errorf(api.CodeBadRequest, "tail=%q is not a non-negative integer", v))
			return
		}
		lq.Tail = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeErr(w, api.Errorf(api.CodeBadRequest, "since=%q is not an RFC 3339 time like 2026-01-02T15:04:05Z", v))
			return
		}
		lq.Since = t
	}
	if v := q.Get("follow"); v != "" {
		f, err := strconv.ParseBool(v)
		if err != nil {
			writeErr(w, api.Errorf(api.CodeBadRequest, "follow=%q is not true or false", v))
			return
		}
		lq.Follow = f
	}
	if _, _, err := h.opts.Store.Service(r.Context(), name); err != nil && !lq.Follow {
		writeErr(w, notFound(err, name))
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for e, err := range h.opts.Store.Logs(r.Context(), name, lq) {
		if err != nil {
			h.logger.Debug("logs stream ended", "service", name, "err", err)
			break
		}
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if enc.Encode(e) != nil {
			return
		}
		if lq.Follow {
			if bw.Flush() != nil || rc.Flush() != nil {
				return
			}
		}
	}
	_ = bw.Flush()
}

// invoke sends a request to a service as the gateway would, minus the
// admin token.
func (h *handler) invoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	prefix := "/v1/services/" + url.PathEscape(name) + "/invoke"
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok {
		rest = "/" + r.PathValue("path")
		if rest == "/" {
			rest = ""
		}
	}
	r.Header.Del("Authorization")
	h.opts.Gateway.ServeService(w, r, name, rest)
}

func (h *handler) url(route string) string {
	if h.opts.Info == nil {
		return ""
	}
	return control.ServiceURL(h.opts.Info().GatewayURL, route)
}

func notFound(err error, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &api.Error{Code: api.CodeNotFound, Status: 404, Message: "no service named " + name, Hint: "list services with: mote ls"}
	}
	return err
}
