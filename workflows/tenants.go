package workflows

import (
	"context"
	"fmt"

	"github.com/cachewarm/cachewarm/migrations"
)

// ActiveTenants returns the ids of the active tenants (tenants.sql), in order.
func (s *Service) ActiveTenants(ctx context.Context) ([]string, error) {
	return migrations.ActiveTenants(ctx, s.pool)
}

// TenantExists reports whether id is an active tenant.
func (s *Service) TenantExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, tenantExistsSQL, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up tenant %s: %w", id, err)
	}
	return ok, nil
}
