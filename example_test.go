package litewavemetric_test

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

// Register the exporter in a MeterProvider and count billable work with an
// ordinary counter; each collection is billed as delta usage. A program
// calls litewavemetric.New(ctx), configured by the LITEWAVE_* variables;
// here a fake Litewave stands in, and its NewExporter bills it alone,
// whatever the environment says.
func ExampleNew() {
	backend := litewavetest.NewServer(litewavetest.WithCustomer("acme", "cus_001"))
	defer backend.Close()

	ctx := context.Background()
	exp, err := backend.NewExporter(ctx)
	if err != nil {
		panic(err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
	pages, _ := provider.Meter("billing").Int64Counter("pages.processed")

	pages.Add(ctx, 24, metric.WithAttributes(
		attribute.String("tenant.id", "acme"),
		attribute.String("device.id", "scanner-1")))

	// Shutdown exports the last collection and delivers what is owed;
	// delivery is retried until it succeeds, so give it a deadline.
	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := provider.Shutdown(shutdownCtx); err != nil {
		panic(err)
	}
	for series, total := range backend.Totals() {
		fmt.Printf("%s/%s %s: %d\n", series.Tenant, series.Device, series.Meter, total)
	}
	// Output: acme/scanner-1 pages.processed: 24
}

// Without OpenTelemetry, the Client makes meter-lib's calls, with errors
// instead of silent nils.
func ExampleClient_PostMeterUsage() {
	backend := litewavetest.NewServer(litewavetest.WithCustomer("tenant_123", "cus_9"))
	defer backend.Close()

	client, err := backend.NewClient() // a program calls litewavemetric.NewClient()
	if err != nil {
		panic(err)
	}
	defer client.Close()
	answer, err := client.PostMeterUsage(context.Background(), "tenant_123", "device_456", "pages.processed.rate.hourly", 24)
	if err != nil {
		fmt.Println("failed:", err)
		return
	}
	fmt.Println("event accepted:", answer["status"])

	_, err = client.PostMeterUsage(context.Background(), "tenant_404", "device_456", "pages.processed.rate.hourly", 1)
	fmt.Println(err)
	// Output:
	// event accepted: accepted
	// litewavemetric: tenant tenant_404: no customer account for tenant; create the tenant's customer account in Litewave, or check the tenant id the application counts with
}

// Bill an instrument under another meter id, and only the listed
// instruments.
func ExampleWithMeterID() {
	backend := litewavetest.NewServer(litewavetest.WithCustomer("acme", "cus_001"))
	defer backend.Close()
	ctx := context.Background()
	exp, err := backend.NewExporter(ctx,
		litewavemetric.WithInstruments("pages"),
		litewavemetric.WithMeterID("pages", "pages.processed.rate.hourly"))
	if err != nil {
		panic(err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
	attrs := metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "d1"))
	pages, _ := provider.Meter("m").Int64Counter("pages")
	retries, _ := provider.Meter("m").Int64Counter("retries")
	pages.Add(ctx, 3, attrs)
	retries.Add(ctx, 7, attrs) // not billed
	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := provider.Shutdown(shutdownCtx); err != nil {
		panic(err)
	}
	for series, total := range backend.Totals() {
		fmt.Println(series.Meter, total)
	}
	// Output: pages.processed.rate.hourly 3
}

// NewClient takes the options that concern talking to the backend; those
// of the exporter alone (attributes, meters, spool, retries) do not
// compile there, and New takes both.
func ExampleNewClient() {
	backend := litewavetest.NewServer(litewavetest.WithCustomer("acme", "cus_1"))
	defer backend.Close()

	client, err := litewavemetric.NewClient(
		litewavemetric.WithoutEnvironment(),
		litewavemetric.WithEndpoint(backend.URL),
		litewavemetric.WithTimeout(5*time.Second),
		litewavemetric.WithCustomerCache(time.Minute, 10*time.Second),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Topic: "usage-events"}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()
	account, err := client.LookupCustomer(context.Background(), "acme")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(account.ID)

	// The same options configure an exporter, beside the exporter's own.
	exp, err := litewavemetric.New(context.Background(),
		litewavemetric.WithoutEnvironment(),
		litewavemetric.WithEndpoint(backend.URL),
		litewavemetric.WithTimeout(5*time.Second),
		litewavemetric.WithAttributeKeys("org", ""),
		litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: 100 * time.Millisecond}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(exp.Shutdown(context.Background()))
	// Output:
	// cus_1
	// <nil>
}
