package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/cachehealth"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/invalidation"
	"github.com/cachewarm/cachewarm/internal/metrics"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// API is what the /api/cache endpoints act on.
type API struct {
	Workflows *workflows.Service
	Client    *river.Client[pgx.Tx]
	Warmer    *warm.Warmer
	// DefaultPhases are run when a warm request names none.
	DefaultPhases []catalog.Phase
}

func (s *Server) routeAPI(api *API) {
	h := &apiHandler{api: api, server: s, invalidation: invalidation.New(api.Warmer, api.Workflows, s.logger)}
	s.mux.Handle("POST /api/cache/warm", s.Protect(http.HandlerFunc(h.warm)))
	s.mux.Handle("POST /api/cache/invalidate", s.Protect(http.HandlerFunc(h.invalidate)))
	// The reads name tenants: the same protection, and a bounded share of the pool.
	s.mux.Handle("GET /api/cache/stats", s.Protect(s.boundedRead(h.stats)))
	s.mux.Handle("GET /api/cache/workflows", s.Protect(s.boundedRead(h.workflows)))
}

type apiHandler struct {
	api          *API
	server       *Server
	invalidation *invalidation.Service
}

// WarmRequest is the body of POST /api/cache/warm.
type WarmRequest struct {
	Tenants []string `json:"tenants"`
	All     bool     `json:"all"`
	Phases  []string `json:"phases"`
}

// Validate checks the request's shape (tenant ids, phases) without touching the database.
func (r WarmRequest) Validate() ([]catalog.Phase, error) {
	if r.All == (len(r.Tenants) > 0) {
		return nil, errors.New(`give "tenants": [...] or "all": true (not both)`)
	}
	for _, t := range r.Tenants {
		if _, err := cache.ParseTenant(t); err != nil {
			return nil, err
		}
	}
	if len(r.Phases) == 0 {
		return nil, nil
	}
	return catalog.ParsePhases(r.Phases)
}

func (h *apiHandler) warm(w http.ResponseWriter, r *http.Request) {
	var req WarmRequest
	if !decode(w, r, &req) {
		return
	}
	phases, err := req.Validate()
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if phases == nil {
		phases = h.api.DefaultPhases
	}
	runs, err := h.api.Workflows.Start(r.Context(), h.api.Client, workflows.Request{
		Tenants: req.Tenants, All: req.All, Phases: phases, Trigger: workflows.TriggerAPI,
	})
	if errors.Is(err, workflows.ErrUnknownTenant) {
		WriteError(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		h.server.logger.ErrorContext(r.Context(), "api warm", "err", err)
		WriteError(w, http.StatusInternalServerError, "could not start workflows: "+err.Error())
		return
	}
	if runs == nil {
		runs = []workflows.Run{}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"workflows": runs})
}

// InvalidateRequest is the body of POST /api/cache/invalidate: either a tenant with datasets
// (all when omitted) or the original design's event form.
type InvalidateRequest struct {
	Tenant   string   `json:"tenant"`
	Datasets []string `json:"datasets"`
	Rewarm   *bool    `json:"rewarm"`

	EventType string `json:"eventType"`
	TenantID  string `json:"tenantId"`
	EntityID  string `json:"entityId"`
}

// Resolve validates the request and returns the tenant, datasets and whether to re-warm.
func (r InvalidateRequest) Resolve(cat *catalog.Catalog) (cache.Tenant, []string, bool, error) {
	rewarm := r.Rewarm == nil || *r.Rewarm
	id, datasets := r.Tenant, r.Datasets
	if r.EventType != "" {
		if r.Tenant != "" || len(r.Datasets) > 0 {
			return cache.Tenant{}, nil, false, errors.New(`give either "eventType" with "tenantId", or "tenant" with "datasets"`)
		}
		var err error
		if datasets, err = cat.EventDatasets(r.EventType); err != nil {
			return cache.Tenant{}, nil, false, err
		}
		id = r.TenantID
	}
	if id == "" {
		return cache.Tenant{}, nil, false, errors.New(`no tenant: give "tenant" (or "tenantId" with "eventType")`)
	}
	if err := (invalidation.Request{Tenants: []string{id}, Datasets: datasets}).Check(cat); err != nil {
		return cache.Tenant{}, nil, false, err
	}
	return cache.MustTenant(id), datasets, rewarm, nil
}

func (h *apiHandler) invalidate(w http.ResponseWriter, r *http.Request) {
	var req InvalidateRequest
	if !decode(w, r, &req) {
		return
	}
	t, datasets, rewarm, err := req.Resolve(h.api.Warmer.Catalog())
	if err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	rep, err := h.invalidation.Invalidate(r.Context(), invalidation.Request{
		Tenants: []string{t.String()}, Datasets: datasets, Rewarm: rewarm, Reason: "invalidate",
	})
	if errors.Is(err, workflows.ErrUnknownTenant) {
		WriteError(w, http.StatusNotFound, fmt.Sprintf("unknown tenant %q", t))
		return
	}
	if err != nil {
		h.server.logger.ErrorContext(r.Context(), "api invalidate", "err", err)
		WriteError(w, http.StatusInternalServerError, "invalidate: "+err.Error())
		return
	}
	res := rep.Tenants[0]
	writeJSON(w, http.StatusOK, res)
}

func (h *apiHandler) stats(w http.ResponseWriter, r *http.Request) {
	ks, err := metrics.ReadKeyspaceStats(r.Context(), h.server.rdb)
	if err != nil {
		h.server.logger.WarnContext(r.Context(), "api stats", "err", err)
		WriteError(w, http.StatusServiceUnavailable, "redis unreachable")
		return
	}
	m := h.server.metrics
	body := map[string]any{
		"hits": ks.Hits, "misses": ks.Misses, "hitRate": round1(ks.HitRate()),
		"sets": m.Sets(), "errors": m.Errors(), "errorRate": round1(m.ErrorRate()),
		"health": cachehealth.Of(ks.HitRate(), m.ErrorRate()),
	}
	if h.server.budget != nil {
		// The memory budget, Redis's memory and evictions, the last warm's skipped phases
		// and the top of the demand ranking (docs/memory.md).
		if st, err := h.server.budget.Status(r.Context(), 10); err == nil {
			body["memory"] = st
		} else {
			h.server.logger.WarnContext(r.Context(), "api stats: memory", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (h *apiHandler) workflows(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get("tenant")
	if tenant != "" {
		if _, err := cache.ParseTenant(tenant); err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	list, err := h.api.Workflows.List(r.Context(), workflows.Filter{Tenant: tenant, Failed: r.URL.Query().Get("failed") == "true"})
	if errors.Is(err, context.DeadlineExceeded) || r.Context().Err() != nil {
		w.Header().Set("Retry-After", "1")
		WriteError(w, http.StatusServiceUnavailable, "listing workflows took too long: try again")
		return
	}
	if err != nil {
		h.server.logger.ErrorContext(r.Context(), "api workflows", "err", err)
		WriteError(w, http.StatusInternalServerError, "could not list workflows")
		return
	}
	if list == nil {
		list = []workflows.Summary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflows": list})
}

// decode reads a JSON body of at most MaxBodyBytes into v, refusing unknown fields, and
// answers the error itself when it fails.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if !jsonContentType(r.Header.Get("Content-Type")) { // Protect checked it; this is for other callers
		WriteError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
			return false
		}
		WriteError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		WriteError(w, http.StatusBadRequest, "malformed JSON: more than one value in the body")
		return false
	}
	return true
}
