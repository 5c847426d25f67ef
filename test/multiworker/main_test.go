// Package multiworker_test runs several `cachewarm worker` processes against one database,
// as a scaled-out deployment does, and checks that River shares the work between them without
// running anything twice or losing anything when one stops.
package multiworker_test

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/testenv"
)

// binary is the cachewarm binary TestMain builds once for every test.
var binary string

func TestMain(m *testing.M) {
	testenv.MainWithBinary(m, func(path string) { binary = path })
}
