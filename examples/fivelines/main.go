// Command fivelines is the README's five lines, as a program: it bills 24
// pages to tenant acme through the backend the LITEWAVE_* variables name,
// and prints what was billed.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
)

func main() {
	ctx := context.Background()

	exp, err := litewavemetric.New(ctx) // LITEWAVE_ENDPOINT, LITEWAVE_API_KEY, ... from the environment
	if err != nil {
		log.Fatal(err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
	pages, _ := provider.Meter("billing").Int64Counter("pages.processed")
	pages.Add(ctx, 24, metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "scanner-1")))

	// Shutdown exports the last collection and delivers what is owed,
	// retrying within its deadline; its error says what was not delivered.
	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := provider.Shutdown(shutdownCtx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("billed %d units of pages.processed for tenant acme, device scanner-1\n", exp.Stats().DeliveredUnits)
}
