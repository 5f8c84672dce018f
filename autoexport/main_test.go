package autoexport_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests: neither the
// registration nor contrib's autoexport may start anything for litewave,
// and the provider's Shutdown stops the exporter's.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
