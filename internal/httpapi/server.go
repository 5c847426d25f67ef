// Package httpapi is cachewarm's HTTP interface: /health, /metrics, the warm and invalidation
// API, and River UI, with bearer-token (or loopback-only) protection for everything that
// changes state.
package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/internal/metrics"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// MaxBodyBytes bounds a request body; a larger one is refused with 413.
const MaxBodyBytes = 64 << 10

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
}

// Server is the HTTP handler.
type Server struct {
	pool    *pgxpool.Pool
	rdb     redis.UniversalClient
	metrics *metrics.Metrics
	token   string
	logger  *slog.Logger
	mux     *http.ServeMux
}

// New builds the handler.
func New(d Deps) *Server {
	s := &Server{pool: d.Pool, rdb: d.Redis, metrics: d.Metrics, token: d.Token, logger: d.Logger, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	if d.API != nil {
		s.routeAPI(d.API)
	}
	// Profiles of the running worker (CPU, heap, goroutines), for operators chasing where
	// the time goes; behind the same protection as mutations.
	s.mux.Handle("/debug/pprof/", s.RequireAuth(http.HandlerFunc(pprof.Index)))
	s.mux.Handle("/debug/pprof/profile", s.RequireAuth(http.HandlerFunc(pprof.Profile)))
	s.mux.Handle("/debug/pprof/trace", s.RequireAuth(http.HandlerFunc(pprof.Trace)))
	if d.RiverUI != nil {
		s.mux.Handle("/riverui/", s.RequireAuth(d.RiverUI))
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

// RequireAuth lets a request through with the right bearer token (compared in constant time)
// or, when no token is configured, from a loopback client only; it refuses others with 401.
func (s *Server) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			if s.token == "" {
				WriteError(w, http.StatusUnauthorized, "no CACHEWARM_API_TOKEN is set: only loopback clients may do this")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="cachewarm"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.token == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return false
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
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
