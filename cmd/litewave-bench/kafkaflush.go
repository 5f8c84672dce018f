package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
)

// kafkaFlush measures what a user sees: a provider's ForceFlush of one
// collection of n series, through our reader and the exporter on backend
// kafka to c, until every event is acknowledged. It is the second of two
// collections of the same series, the steady state in which every series
// and customer is known. With spool, the exporter spools and so delivers
// in transactions. measuring, if not nil, is called as the measured flush
// begins. profile, if not empty, names the file of a CPU profile of the
// measured flush alone.
func kafkaFlush(b *backend, c *kfake.Cluster, n, tenants, concurrency int, spool bool, measuring func(), profile string) (float64, error) {
	ctx := context.Background()
	opts := []litewavemetric.Option{litewavemetric.WithEndpoint(b.URL), litewavemetric.WithConcurrency(concurrency),
		litewavemetric.WithMaxSeries(2 * n), litewavemetric.WithSpoolDir(""), litewavemetric.WithAPIKey(""),
		litewavemetric.WithBackend(litewavemetric.BackendKafka), litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: c.ListenAddrs()})}
	if spool {
		dir, err := os.MkdirTemp("", "litewave-bench-spool")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		opts = append(opts, litewavemetric.WithSpoolDir(dir))
	}
	exp, err := litewavemetric.New(ctx, opts...)
	if err != nil {
		return 0, err
	}
	// Only ForceFlush collects: the interval never comes.
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	defer provider.Shutdown(ctx)
	counter, err := provider.Meter("litewave-bench").Int64Counter("pages.processed")
	if err != nil {
		return 0, err
	}
	sets := make([]metric.AddOption, n)
	for i := range sets {
		sets[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("tenant.id", tenant(i, tenants)), attribute.String("device.id", device(i, tenants))))
	}
	count := func() {
		for i, set := range sets {
			counter.Add(ctx, int64(1+i%9), set)
		}
	}
	count()
	if err := provider.ForceFlush(ctx); err != nil {
		return 0, fmt.Errorf("first collection: %w", err)
	}
	count()
	before := exp.Stats().DeliveredEvents
	runtime.GC()
	if measuring != nil {
		measuring()
	}
	stopProfile := func() {}
	if profile != "" {
		if stopProfile, err = startCPUProfile(profile); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	err = provider.ForceFlush(ctx)
	elapsed := time.Since(start)
	stopProfile()
	if err != nil {
		return 0, err
	}
	if got := exp.Stats().DeliveredEvents - before; got != int64(n) {
		return 0, fmt.Errorf("%d events delivered, want %d", got, n)
	}
	return float64(n) / elapsed.Seconds(), nil
}
