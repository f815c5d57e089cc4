package admin

import (
	"net/http"

	"github.com/mote-run/mote/api"
)

// Traffic, rollback and scale: PUT /v1/services/{name}/traffic, POST
// /v1/services/{name}/rollback, PUT and DELETE /v1/services/{name}/scale.
// Each answers with the service once the node serves the change.

func (h *handler) setTraffic(w http.ResponseWriter, r *http.Request) {
	var req api.TrafficRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	svc, err := h.opts.Control.SetTrafficGuarded(r.Context(), r.PathValue("name"), req.Traffic, req.Guard)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

func (h *handler) rollback(w http.ResponseWriter, r *http.Request) {
	svc, err := h.opts.Control.Rollback(r.Context(), r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

func (h *handler) setScale(w http.ResponseWriter, r *http.Request) {
	var sc api.Scale
	if err := decodeJSON(w, r, &sc); err != nil {
		writeErr(w, err)
		return
	}
	svc, err := h.opts.Control.SetScale(r.Context(), r.PathValue("name"), &sc)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}

func (h *handler) clearScale(w http.ResponseWriter, r *http.Request) {
	svc, err := h.opts.Control.SetScale(r.Context(), r.PathValue("name"), nil)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, svc)
}
