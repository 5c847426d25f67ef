package cache

import (
	"errors"
	"fmt"
)

// ErrInvalidTenant is returned (wrapped) for a tenant id that may not be used in a key, a pattern
// or a job. Check it with errors.Is.
var ErrInvalidTenant = errors.New("invalid tenant id")

// MaxTenantLen is the longest tenant id accepted.
const MaxTenantLen = 64

// Tenant is a validated tenant id. The only way to get a non-zero Tenant is [ParseTenant], so a
// key builder that takes a Tenant can never put an unchecked id in a key.
type Tenant struct{ id string }

// ParseTenant validates id: 1 to 64 characters from [A-Za-z0-9_-]. Anything else (glob
// characters, ':', spaces, non-ASCII) is refused with an error wrapping [ErrInvalidTenant].
func ParseTenant(id string) (Tenant, error) {
	if id == "" {
		return Tenant{}, fmt.Errorf("%w: empty", ErrInvalidTenant)
	}
	if len(id) > MaxTenantLen {
		return Tenant{}, fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalidTenant, len(id), MaxTenantLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			continue
		}
		return Tenant{}, fmt.Errorf("%w: %q has character %q at %d; only A-Z a-z 0-9 _ - are allowed", ErrInvalidTenant, id, c, i)
	}
	return Tenant{id: id}, nil
}

// MustTenant is ParseTenant for constants in tests and examples; it panics on an invalid id.
func MustTenant(id string) Tenant {
	t, err := ParseTenant(id)
	if err != nil {
		panic(err)
	}
	return t
}

// String returns the tenant id.
func (t Tenant) String() string { return t.id }

// IsZero reports whether t is the zero Tenant (no id).
func (t Tenant) IsZero() bool { return t.id == "" }
