package faults_test

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/testenv"
)

// binary is the cachewarm binary TestMain builds once for every test.
var binary string

func TestMain(m *testing.M) {
	testenv.MainWithBinary(m, func(path string) { binary = path })
}
