// Package httpapi is cachewarm's HTTP interface: /health, /metrics, the warm and invalidation
// API, and River UI, with bearer-token (or loopback-only) protection for everything that
// changes state.
package httpapi

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/metrics"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// MaxBodyBytes bounds a request body; a larger one is refused with 413.
const MaxBodyBytes = 64 << 10

// Defaults of the reads' share of the pool (Deps.ReadLimit and Deps.ReadTimeout).
const (
	DefaultReadLimit   = 2
	DefaultReadTimeout = 10 * time.Second
)

// Deps are what the server serves from.
type Deps struct {
	Pool     *pgxpool.Pool
	Redis    redis.UniversalClient
	Metrics  *metrics.Metrics
	Gatherer prometheus.Gatherer
	// API, if set, serves /api/cache/...
	API *API
	// RiverUI serves /riverui/; nil leaves it out.
	RiverUI http.Handler
	// Token is the bearer token mutations need; empty allows loopback clients only.
	Token  string
	Logger *slog.Logger
	// ReadLimit is how many reads of workflows and statistics run at once, each holding at
	// most one pool connection (default DefaultReadLimit); others wait for a slot.
	ReadLimit int
	// ColdReason, if not nil, says why the cache is cold ("" when it is not): /health then
	// answers degraded with that reason.
	ColdReason func(context.Context) string
	// ReadTimeout bounds such a read, its wait for a slot included (default
	// DefaultReadTimeout).
	ReadTimeout time.Duration
	// Budget, if set, reports the memory budget in /api/cache/stats and /health.
	Budget *budget.Reporter
}

// Server is the HTTP handler.
type Server struct {
	pool    *pgxpool.Pool
	rdb     redis.UniversalClient
	metrics *metrics.Metrics
	token   string
	logger  *slog.Logger
	mux     *http.ServeMux
	// reads holds a token per read in progress (see boundedRead).
	reads       chan struct{}
	readTimeout time.Duration
	budget      *budget.Reporter
	coldReason  func(context.Context) string
}

// New builds the handler.
func New(d Deps) *Server {
	s := &Server{
		pool: d.Pool, rdb: d.Redis, metrics: d.Metrics, token: d.Token, logger: d.Logger, mux: http.NewServeMux(),
		reads: make(chan struct{}, cmp.Or(max(d.ReadLimit, 0), DefaultReadLimit)), readTimeout: cmp.Or(max(d.ReadTimeout, 0), DefaultReadTimeout),
		budget:     d.Budget,
		coldReason: d.ColdReason,
	}
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	if d.API != nil {
		s.routeAPI(d.API)
	}
	// Profiles of the running worker (CPU, heap, goroutines), for operators chasing where
	// the time goes; behind the same protection as mutations.
	s.mux.Handle("/debug/pprof/", s.Protect(http.HandlerFunc(pprof.Index)))
	s.mux.Handle("/debug/pprof/profile", s.Protect(http.HandlerFunc(pprof.Profile)))
	s.mux.Handle("/debug/pprof/trace", s.Protect(http.HandlerFunc(pprof.Trace)))
	if d.RiverUI != nil {
		// Its API's mutations (cancel, retry, delete, pause...) get the same checks as ours;
		// its page sends them as JSON (see riverUIPage).
		s.mux.Handle("/riverui/", s.Protect(riverUIPage(d.RiverUI)))
	}
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// NewHTTPServer wraps h in an http.Server on addr with timeouts set.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// WriteError writes {"error": msg} with code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
