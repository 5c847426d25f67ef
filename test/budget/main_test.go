// Package budget_test runs the built cachewarm binary against a private Redis with a small
// maxmemory: the memory budget keeps the most demanded tenants whole (docs/memory.md).
package budget_test

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/testenv"
)

// binary is the cachewarm binary TestMain builds once.
var binary string

func TestMain(m *testing.M) {
	testenv.MainWithBinary(m, func(path string) { binary = path })
}
