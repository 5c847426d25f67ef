package workflows

import (
	"context"
	"fmt"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/jackc/pgx/v5"
)

// Progress is how far a set of workflows has come.
type Progress struct {
	Total, Finished, Completed int
	Keys, Bytes                int64
	// Phases counts, per phase in workflow order, how many of the workflows that run it have
	// finished it.
	Phases []PhaseProgress
}

// PhaseProgress counts finished phases.
type PhaseProgress struct {
	Phase    catalog.Phase
	Done, Of int
}

// Progress reads the progress of the workflows ids.
func (s *Service) Progress(ctx context.Context, ids []int64) (Progress, error) {
	p := Progress{Total: len(ids)}
	err := s.pool.QueryRow(ctx, progressRunsSQL, ids).Scan(&p.Finished, &p.Completed, &p.Keys, &p.Bytes)
	if err != nil {
		return p, fmt.Errorf("workflow progress: %w", err)
	}
	rows, err := s.pool.Query(ctx, progressPhasesSQL, ids)
	if err != nil {
		return p, fmt.Errorf("workflow progress: %w", err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Phase    string
		Done, Of int
	}])
	if err != nil {
		return p, fmt.Errorf("workflow progress: %w", err)
	}
	for _, ph := range catalog.Phases {
		for _, c := range counts {
			if c.Phase == string(ph) {
				p.Phases = append(p.Phases, PhaseProgress{Phase: ph, Done: c.Done, Of: c.Of})
			}
		}
	}
	return p, nil
}
