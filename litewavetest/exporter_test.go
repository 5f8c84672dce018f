package litewavetest

import (
	"context"
	"errors"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// An exporter from Exporter(t) is shut down when its test ends, so that a
// test that never shuts its provider down leaks no goroutine (TestMain's
// goleak would fail the run).
func TestExporterIsShutDownWhenTheTestEnds(t *testing.T) {
	srv := newTestServer(t)
	var exp interface{ Shutdown(context.Context) error }
	t.Run("a test that forgets its exporter", func(t *testing.T) {
		exp = srv.Exporter(t)
	})
	if err := exp.Shutdown(context.Background()); !errors.Is(err, sdkmetric.ErrExporterShutdown) {
		t.Fatalf("the exporter was not shut down at the end of its test: Shutdown returned %v", err)
	}
}

// The exporter needs the server's URL; a Server from NewHandler has none,
// and says what to do instead of billing the in-cluster default.
func TestNewExporterNeedsAListeningServer(t *testing.T) {
	srv := NewHandler()
	defer srv.Close()
	if _, err := srv.NewExporter(context.Background()); err == nil {
		t.Fatal("an exporter was built for a server that does not listen")
	}
	if _, err := srv.NewClient(); err == nil {
		t.Fatal("a client was built for a server that does not listen")
	}
}
