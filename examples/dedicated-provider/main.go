// Command dedicated-provider keeps billing apart from observability: a
// MeterProvider of its own, with only the exporter, for the counters that
// are billed; the application's usual provider goes on serving dashboards.
//
// Keeping them apart means billing never depends on how the observability
// pipeline is configured (its temporality, views, cardinality limits or
// sampling), and an observability outage cannot hold up billing.
//
// With LITEWAVE_ENDPOINT, LITEWAVE_BACKEND and LITEWAVE_KAFKA_REST_URL
// unset it bills an embedded fake backend, and only it:
//
//	go run ./examples/dedicated-provider
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()

	// The observability provider: whatever the application already uses
	// (a ManualReader stands in for an OTLP exporter here).
	obsReader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(obsReader)))

	// The billing provider: only the Litewave exporter, and only the
	// instruments that are billed.
	billedOnly := litewavemetric.WithInstruments("pages.processed")
	var backend *litewavetest.Server
	var exp *litewavemetric.Exporter
	var err error
	if embedded() {
		backend = litewavetest.NewServer(litewavetest.WithCustomer("acme", "cus_001"))
		defer backend.Close()
		exp, err = backend.NewExporter(ctx, billedOnly)
	} else {
		exp, err = litewavemetric.New(ctx, billedOnly)
	}
	if err != nil {
		return err
	}
	billing := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))

	billed, _ := billing.Meter("billing").Int64Counter("pages.processed")
	latency, _ := otel.Meter("app").Float64Histogram("request.duration", metric.WithUnit("s"))

	for range 10 {
		billed.Add(ctx, 3, metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "web-1")))
		latency.Record(ctx, 0.042)
	}
	// Shutdown exports the last collection and delivers what is owed;
	// delivery is retried until it succeeds, so give it a deadline.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := billing.Shutdown(sctx); err != nil {
		return err
	}
	if backend != nil {
		fmt.Printf("billed to Litewave: %d pages for acme/web-1\n", backend.Total())
	}
	fmt.Printf("billing stats: %d events, %d units delivered\n", exp.Stats().DeliveredEvents, exp.Stats().DeliveredUnits)
	return nil
}

// embedded says whether to bill an embedded fake backend, which then gets
// every request whatever other LITEWAVE_* variables say: when none of the
// variables that choose where usage goes is set.
func embedded() bool {
	for _, name := range []string{"LITEWAVE_ENDPOINT", "LITEWAVE_BACKEND", "LITEWAVE_KAFKA_REST_URL"} {
		if strings.TrimSpace(os.Getenv(name)) != "" {
			return false
		}
	}
	return true
}
