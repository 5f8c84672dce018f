package litewavetest_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// Test your own instrumentation against the fake: register the tenants'
// customers (an unknown tenant has no account, and its usage stays owed),
// take an exporter wired to the fake alone (no LITEWAVE_* variable reaches
// it), count, and flush through the provider, which delivers everything
// before it returns; then read what was billed. In a test,
// backend.Exporter(t) also fails the test if the exporter cannot be built.
func Example_testingInstrumentation() {
	backend := litewavetest.NewServer(litewavetest.WithCustomer("acme", "cus_001"))
	defer backend.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exp, err := backend.NewExporter(ctx)
	if err != nil {
		panic(err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
	defer func() {
		if err := provider.Shutdown(ctx); err != nil {
			fmt.Println("shutdown:", err)
		}
	}()

	// The code under test counts as it does in production.
	pages, _ := provider.Meter("app").Int64Counter("pages.processed")
	pages.Add(ctx, 3, metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "scanner-1")))
	pages.Add(ctx, 4, metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "scanner-1")))

	if err := provider.ForceFlush(ctx); err != nil {
		fmt.Println("not billed:", err)
		return
	}
	fmt.Println(backend.Totals()[litewavetest.Series{Tenant: "acme", Device: "scanner-1", Meter: "pages.processed"}])
	// Output: 7
}
