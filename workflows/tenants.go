package workflows

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ActiveTenants returns the ids of the active tenants (tenants.sql), in order.
func (s *Service) ActiveTenants(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, activeTenantsSQL)
	if err != nil {
		return nil, fmt.Errorf("list active tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list active tenants: %w", err)
	}
	return ids, nil
}

// TenantExists reports whether id is an active tenant.
func (s *Service) TenantExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, tenantExistsSQL, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up tenant %s: %w", id, err)
	}
	return ok, nil
}
