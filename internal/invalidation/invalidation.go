// Package invalidation is the one home of invalidating tenants' keys: `cachewarm invalidate`
// and POST /api/cache/invalidate only translate their input into a [Request] and the
// [Report] back into their output.
package invalidation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/workflows"
)

// Request says whose keys to remove.
type Request struct {
	// Tenants names the tenants; each must be valid and active. AllTenants takes every
	// active tenant instead (exactly one of the two).
	Tenants    []string
	AllTenants bool
	// Datasets names the datasets (empty: every dataset).
	Datasets []string
	// Rewarm queues a re-warm of what was removed.
	Rewarm bool
	// Reason is recorded on the re-warm jobs.
	Reason string
}

// Report says what was done.
type Report struct {
	// Tenants has one entry per tenant invalidated, in request order.
	Tenants []warm.Invalidated
	// Skipped lists the active tenants of an AllTenants request whose ids are not valid
	// tenant ids: no warm writes their keys, so there is nothing to remove.
	Skipped []Skipped
	// Deleted and Rewarm are the totals of keys removed and re-warm jobs queued.
	Deleted, Rewarm int
}

// Skipped is a tenant id left out, and why.
type Skipped struct {
	ID  string
	Err error
}

// Check checks the request against cat without touching a database: one of tenants and all
// tenants, valid tenant ids (errors wrap cache.ErrInvalidTenant), known datasets.
func (r Request) Check(cat *catalog.Catalog) error {
	if r.AllTenants == (len(r.Tenants) > 0) {
		return errors.New("name tenants, or ask for all tenants (not both)")
	}
	for _, id := range r.Tenants {
		if _, err := cache.ParseTenant(id); err != nil {
			return err
		}
	}
	for _, d := range r.Datasets {
		if _, err := cat.Lookup(d); err != nil {
			return fmt.Errorf("%w (known: %v)", err, cat.Names())
		}
	}
	return nil
}

// Service invalidates.
type Service struct {
	warmer  *warm.Warmer
	tenants *workflows.Service
	logger  *slog.Logger
}

// New returns the service: warmer removes keys and queues re-warms, tenants says which are
// active.
func New(warmer *warm.Warmer, tenants *workflows.Service, logger *slog.Logger) *Service {
	return &Service{warmer: warmer, tenants: tenants, logger: logger}
}

// Invalidate checks the whole request first ([Request.Check], and that each named tenant is
// active: an error wrapping workflows.ErrUnknownTenant), then removes the keys tenant by
// tenant.
func (s *Service) Invalidate(ctx context.Context, r Request) (Report, error) {
	var rep Report
	if err := r.Check(s.warmer.Catalog()); err != nil {
		return rep, err
	}
	tenants, err := s.resolve(ctx, r, &rep)
	if err != nil {
		return rep, err
	}
	for _, t := range tenants {
		res, err := s.warmer.Invalidate(ctx, t, r.Datasets, r.Rewarm, r.Reason)
		if err != nil {
			return rep, err
		}
		rep.Tenants = append(rep.Tenants, res)
		rep.Deleted += res.Deleted
		rep.Rewarm += res.Rewarm
	}
	return rep, nil
}

func (s *Service) resolve(ctx context.Context, r Request, rep *Report) ([]cache.Tenant, error) {
	var out []cache.Tenant
	if r.AllTenants {
		ids, err := s.tenants.ActiveTenants(ctx)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			t, err := cache.ParseTenant(id)
			if err != nil {
				// One bad row must not stop the others.
				rep.Skipped = append(rep.Skipped, Skipped{ID: id, Err: err})
				s.logger.WarnContext(ctx, "invalidate: tenant skipped", "tenant", fmt.Sprintf("%q", id), "err", err)
				continue
			}
			out = append(out, t)
		}
		return out, nil
	}
	for _, id := range r.Tenants {
		t := cache.MustTenant(id) // checked
		out = append(out, t)
	}
	for _, t := range out {
		ok, err := s.tenants.TenantExists(ctx, t.String())
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: %q (not an active tenant: see tenants.sql)", workflows.ErrUnknownTenant, t)
		}
	}
	return out, nil
}
