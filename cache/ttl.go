package cache

import "time"

// TTL classes of the original design. Values are written with a millisecond TTL (SET ... PX).
const (
	// TTLOperational is for fast-changing operational data.
	TTLOperational = 5 * time.Minute
	// TTLDashboard is for dashboard figures.
	TTLDashboard = time.Hour
	// TTLReference is for master data (the high phase).
	TTLReference = 12 * time.Hour
	// TTLStatic is for essential reference data (the critical phase).
	TTLStatic = 24 * time.Hour
	// TTLAuth is for authentication and session data.
	TTLAuth = 15 * time.Minute
	// TTLAggregate is for aggregated and computed data (the medium phase).
	TTLAggregate = 6 * time.Hour
)
