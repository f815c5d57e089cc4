package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
)

// API management of services: GET /v1/services/{name}/stats, PUT and
// DELETE /v1/services/{name}/lifecycle, the catalog at GET /v1/apis and a
// service's document at GET /v1/services/{name}/openapi.

// maxStatsWindow is how far back stats can look (the analytics retention).
const maxStatsWindow = 24 * time.Hour

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, _, err := h.opts.Store.Service(r.Context(), name); err != nil {
		writeErr(w, notFound(err, name))
		return
	}
	if h.opts.Analytics == nil {
		writeErr(w, api.Errorf(api.CodeNotFound, "analytics are disabled on this node"))
		return
	}
	window := time.Hour
	if s := r.URL.Query().Get("since"); s != "" {
		d, err := parseWindow(s)
		if err != nil {
			writeErr(w, err)
			return
		}
		window = d
	}
	by := r.URL.Query().Get("by")
	st, err := h.opts.Analytics.Query(name, time.Now().Add(-window), by)
	if err != nil {
		writeErr(w, api.Errorf(api.CodeBadRequest, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// parseWindow reads a stats window: a Go duration ("90m", "1h") or a
// number of days ("1d"), from 1s to maxStatsWindow.
func parseWindow(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < time.Second || d > maxStatsWindow {
		return 0, api.Errorf(api.CodeBadRequest, "since=%q is not a window from 1s to 24h; write it like 15m, 1h or 1d", s)
	}
	return d, nil
}

func (h *handler) setLifecycle(w http.ResponseWriter, r *http.Request) {
	var lc api.Lifecycle
	if err := decodeJSON(w, r, &lc); err != nil {
		writeErr(w, err)
		return
	}
	svc, err := h.opts.Control.SetLifecycle(r.Context(), r.PathValue("name"), &lc)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

func (h *handler) clearLifecycle(w http.ResponseWriter, r *http.Request) {
	svc, err := h.opts.Control.SetLifecycle(r.Context(), r.PathValue("name"), nil)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

func (h *handler) apis(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.opts.Control.APIs())
}

func (h *handler) apiDocument(w http.ResponseWriter, r *http.Request) {
	doc, err := h.opts.Control.APIDocument(r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}
