package autoexport_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	contrib "go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	_ "github.com/aiorch/litewavemetric/autoexport"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// A program that takes its metric reader from autoexport bills through
// Litewave once its environment says OTEL_METRICS_EXPORTER=litewave. Here a
// fake Litewave on loopback stands in for the real one, and the variables
// a deployment would set are set by the example itself, after clearing
// those a shell may have exported (a real portal, key or spool), so that
// only the fake is billed.
func Example() {
	for _, kv := range os.Environ() {
		if name, value, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "LITEWAVE_") {
			os.Unsetenv(name)
			defer os.Setenv(name, value)
		}
	}
	litewave := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer litewave.Close()
	os.Setenv("OTEL_METRICS_EXPORTER", "litewave")
	os.Setenv("LITEWAVE_ENDPOINT", litewave.URL)
	defer os.Unsetenv("OTEL_METRICS_EXPORTER")
	defer os.Unsetenv("LITEWAVE_ENDPOINT")

	ctx := context.Background()
	reader, err := contrib.NewMetricReader(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	pages, _ := provider.Meter("billing").Int64Counter("pages.processed")
	pages.Add(ctx, 24, metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "scanner-1")))

	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := provider.Shutdown(shutdownCtx); err != nil {
		fmt.Println(err)
	}
	fmt.Println(litewave.Totals())
	// Output: map[{acme scanner-1 pages.processed}:24]
}
