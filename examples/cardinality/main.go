// Command cardinality shows why a billing reader needs its own cardinality
// limit. The OTel SDK merges the attribute sets of an instrument past its
// limit (2000 by default) into one set, {otel.metric.overflow=true}: usage
// with no tenant. The exporter reports such usage, but cannot bill it.
// litewavemetric.NewPeriodicReader sets no limit on counters: the
// exporter's own series cap bounds them, with an error of its own.
//
// It bills an embedded backend only, whatever LITEWAVE_* variables are set:
//
//	go run ./examples/cardinality
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

const tenants = 3000

func main() {
	for _, billingReader := range []bool{false, true} {
		if err := run(billingReader); err != nil {
			log.Fatal(err)
		}
	}
}

func run(billingReader bool) error {
	ctx := context.Background()
	var opts []litewavetest.Option
	for i := range tenants {
		opts = append(opts, litewavetest.WithCustomer(fmt.Sprintf("tenant-%d", i), fmt.Sprintf("cus-%d", i)))
	}
	backend := litewavetest.NewServer(opts...)
	defer backend.Close()
	exp, err := backend.NewExporter(ctx)
	if err != nil {
		return err
	}

	var reader *sdkmetric.PeriodicReader
	name := "sdkmetric.NewPeriodicReader (SDK default limit 2000)"
	if billingReader {
		reader = litewavemetric.NewPeriodicReader(exp)
		name = "litewavemetric.NewPeriodicReader"
	} else {
		reader = sdkmetric.NewPeriodicReader(exp)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	pages, _ := provider.Meter("billing").Int64Counter("pages.processed")
	for i := range tenants {
		pages.Add(ctx, 1, metric.WithAttributes(attribute.String("tenant.id", fmt.Sprintf("tenant-%d", i)), attribute.String("device.id", "d")))
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = provider.Shutdown(sctx)
	fmt.Printf("%s:\n  counted %d pages for %d tenants, billed %d\n", name, tenants, tenants, backend.Total())
	var ue *litewavemetric.UsageError
	if !errors.As(err, &ue) {
		return err // nil, or a failure this example does not expect
	}
	fmt.Printf("  reported: %v\n", ue)
	return nil
}
