package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cachewarm/cachewarm/internal/cachehealth"
	"github.com/cachewarm/cachewarm/internal/metrics"
)

type cacheHealth struct {
	Status    string  `json:"status"`
	HitRate   float64 `json:"hitRate"`
	ErrorRate float64 `json:"errorRate"`
	Error     string  `json:"error,omitempty"`
}

type depHealth struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

type healthBody struct {
	Status string `json:"status"`
	// Reason says why the status is degraded.
	Reason string `json:"reason,omitempty"`
	Info   struct {
		Cache    cacheHealth `json:"cache"`
		Database depHealth   `json:"database"`
	} `json:"info"`
}

// health answers GET /health: 200 with the cache's health while Redis and PostgreSQL answer,
// 503 when either does not. Anyone may ask; only an authorized caller (see Protect) is told
// why a service is down (a driver's error names the user, database and address).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var (
		wg              sync.WaitGroup
		pgErr, redisErr error
		ks              metrics.KeyspaceStats
	)
	wg.Go(func() { pgErr = s.pool.Ping(ctx) })
	wg.Go(func() { ks, redisErr = metrics.ReadKeyspaceStats(ctx, s.rdb) })
	var cold, memory string
	if s.coldReason != nil {
		wg.Go(func() { cold = s.coldReason(ctx) })
	}
	if s.budget != nil {
		wg.Go(func() { memory = s.budget.HealthReason(ctx) })
	}
	wg.Wait()

	var body healthBody
	body.Status = "ok"
	body.Info.Database.Status = "up"
	c := &body.Info.Cache
	c.HitRate = round1(ks.HitRate())
	c.ErrorRate = round1(s.metrics.ErrorRate())
	c.Status = cachehealth.Of(c.HitRate, c.ErrorRate)
	code := http.StatusOK
	detail := func(err error) string {
		if s.authorized(r) {
			return ": " + err.Error()
		}
		return ""
	}
	if redisErr != nil {
		body.Status, c.Status, c.Error, c.HitRate = "error", cachehealth.Unhealthy, "redis unreachable"+detail(redisErr), 0
		code = http.StatusServiceUnavailable
	}
	if pgErr != nil {
		body.Status, body.Info.Database = "error", depHealth{Status: "down", Error: "postgres unreachable" + detail(pgErr)}
		code = http.StatusServiceUnavailable
	}
	// A cold cache being re-warmed, and a warm that skipped phases or saw evictions
	// (docs/memory.md), degrade a service that answers.
	var reasons []string
	for _, r := range []string{cold, memory} {
		if r != "" {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) > 0 && body.Status == "ok" {
		body.Status, body.Reason = "degraded", strings.Join(reasons, "; ")
	}
	writeJSON(w, code, body)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
