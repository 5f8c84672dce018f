package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric"
)

// The paths a collection takes in the million-series rows: into a
// discarding exporter (the SDK's own cost), or through the exporter to
// one of the fake process's backends.
const (
	toDiscard   = "discard"
	toEvents    = "events"
	toKafkaREST = "kafka-rest"
	toKafka     = "kafka"
)

// meterName is the counter of the million-series rows, billed under its
// own name.
const meterName = "pages.processed"

// collectionRun is one measured collection of a provider, the second of
// two of the same series: the steady state, in which every series and
// customer is known.
type collectionRun struct {
	first, flush time.Duration // the first collection's ForceFlush, and the measured one's
	// CPU time during the measured ForceFlush of this process (the SDK
	// and the exporter) and of the fake process.
	cpu, fakeCPU time.Duration
	// Heap above what it was before the provider was made: its peak
	// during the measured ForceFlush, the most a GC found live during it,
	// and what is live once it returned; and what the flush allocated.
	peak, livePeak, live, allocated float64
}

// collectionOf measures one ForceFlush of n series over tenants to path,
// with the fake backend in another process, and checks that every series
// was billed exactly what it counted over both collections. Each run has
// a fake process of its own, so that what one stored does not weigh on
// the next.
func collectionOf(path string, n, tenants int) (collectionRun, error) {
	var run collectionRun
	ctx := context.Background()
	var fake *fakeProcess
	if path != toDiscard {
		var err error
		if fake, err = startFake(); err != nil {
			return run, err
		}
		defer fake.close()
	}
	sets := attributeSets(n, tenants)
	base := liveHeap()
	reader, exp, err := readerTo(ctx, path, fake, n)
	if err != nil {
		return run, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx)
	counter, err := provider.Meter("litewave-bench").Int64Counter(meterName)
	if err != nil {
		return run, err
	}
	count := func() {
		for i, set := range sets {
			counter.Add(ctx, units(i), set)
		}
	}
	count()
	start := time.Now()
	if err := provider.ForceFlush(ctx); err != nil {
		return run, fmt.Errorf("first collection: %w", err)
	}
	run.first = time.Since(start)
	count()
	var before int64
	if exp != nil {
		before = exp.Stats().DeliveredEvents
	}
	runtime.GC()
	fakeBefore, err := fakeCPU(fake)
	if err != nil {
		return run, err
	}
	stopProfile, err := startCPUProfile(fmt.Sprintf("%s.%s.%d", *cpuprofile, path, n))
	if err != nil {
		return run, err
	}
	cpuBefore := processCPU()
	stopSampling := sampleHeap(*heapEvery)
	start = time.Now()
	err = provider.ForceFlush(ctx)
	run.flush = time.Since(start)
	heap := stopSampling()
	run.cpu = processCPU() - cpuBefore
	stopProfile()
	if err != nil {
		return run, err
	}
	fakeAfter, err := fakeCPU(fake)
	if err != nil {
		return run, err
	}
	run.fakeCPU = fakeAfter - fakeBefore
	if exp != nil {
		if got := exp.Stats().DeliveredEvents - before; got != int64(n) {
			return run, fmt.Errorf("%d events delivered, want %d", got, n)
		}
	}
	live := liveHeap()
	if err := writeHeapProfile(fmt.Sprintf("%s.%s.%d", *memprofile, path, n)); err != nil {
		return run, err
	}
	run.peak, run.livePeak, run.live = float64(heap.peak)-float64(base), float64(heap.livePeak)-float64(base), float64(live)-float64(base)
	run.allocated = float64(heap.allocated)
	runtime.KeepAlive(sets) // they are in base, so must be in live
	if err := provider.Shutdown(ctx); err != nil {
		return run, err
	}
	if fake != nil {
		return run, billedExactly(fake, path, n, tenants)
	}
	return run, nil
}

// fakeCPU is the CPU time fake has used, 0 if there is none.
func fakeCPU(fake *fakeProcess) (time.Duration, error) {
	if fake == nil {
		return 0, nil
	}
	return fake.cpu()
}

// readerTo is the reader of a provider collecting to path: the
// exporter's, made with exp, or one with a discarding exporter and the
// same temporality, aggregation and cardinality.
func readerTo(ctx context.Context, path string, fake *fakeProcess, n int) (sdkmetric.Reader, *litewavemetric.Exporter, error) {
	// Only ForceFlush collects: the interval never comes; a collection
	// of a million series may take longer than the default timeout.
	every, timeout := sdkmetric.WithInterval(time.Hour), sdkmetric.WithTimeout(time.Hour)
	if path == toDiscard {
		return sdkmetric.NewPeriodicReader(discardExporter{}, every, timeout,
			sdkmetric.WithCardinalityLimitSelector(func(sdkmetric.InstrumentKind) (int, bool) { return 0, false })), nil, nil
	}
	opts := []litewavemetric.Option{litewavemetric.WithoutEnvironment(), litewavemetric.WithEndpoint(fake.URL),
		litewavemetric.WithAPIKey("bench"), litewavemetric.WithConcurrency(*concurrency), litewavemetric.WithMaxSeries(n)}
	switch path {
	case toKafkaREST:
		opts = append(opts, litewavemetric.WithBackend(litewavemetric.BackendKafkaREST),
			litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: fake.URL}))
	case toKafka:
		opts = append(opts, litewavemetric.WithBackend(litewavemetric.BackendKafka),
			litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: fake.Brokers}))
	}
	exp, err := litewavemetric.New(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	return litewavemetric.NewPeriodicReader(exp, every, timeout), exp, nil
}

// billedExactly checks, with what the fake process counted without
// deduplicating, that two collections of n series over tenants were
// billed once each, every series exactly what it counted.
func billedExactly(fake *fakeProcess, path string, n, tenants int) error {
	var readBack int64
	if path == toKafka {
		readBack = int64(2 * n)
	}
	b, err := fake.billed(readBack)
	if err != nil {
		return err
	}
	var want uint64
	for i := range n {
		want += seriesPrint(tenant(i, tenants), device(i, tenants), meterName) * uint64(2*units(i))
	}
	got := b.Events + b.Records + b.KafkaRecords
	switch {
	case got != int64(2*n):
		return fmt.Errorf("billed %d events and records, want %d", got, 2*n)
	case b.EventDuplicates > 0 || b.Refused > 0:
		return fmt.Errorf("the fake saw %d duplicates and %d events or records it refused", b.EventDuplicates, b.Refused)
	case path == toKafka && b.KafkaOffsets != b.KafkaRecords:
		return fmt.Errorf("the usage topic holds %d records, of which %d were read committed", b.KafkaOffsets, b.KafkaRecords)
	case b.Fingerprint != want:
		return fmt.Errorf("the usage billed per series differs from the usage counted")
	}
	return nil
}

// units is what series i counts in each collection.
func units(i int) int64 { return int64(1 + i%9) }

// attributeSets are the attributes of n series over tenants.
func attributeSets(n, tenants int) []metric.AddOption {
	sets := make([]metric.AddOption, n)
	for i := range sets {
		sets[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("tenant.id", tenant(i, tenants)), attribute.String("device.id", device(i, tenants))))
	}
	return sets
}

// discardExporter takes collections and keeps nothing.
type discardExporter struct{}

func (discardExporter) Temporality(sdkmetric.InstrumentKind) metricdata.Temporality {
	return metricdata.DeltaTemporality
}

func (discardExporter) Aggregation(sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.AggregationSum{}
}

func (discardExporter) Export(context.Context, *metricdata.ResourceMetrics) error { return nil }
func (discardExporter) ForceFlush(context.Context) error                          { return nil }
func (discardExporter) Shutdown(context.Context) error                            { return nil }

// startCPUProfile profiles the CPU into name, if -cpuprofile asks for it,
// until stop is called.
func startCPUProfile(name string) (stop func(), err error) {
	if *cpuprofile == "" {
		return func() {}, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes the heap profile as of the last GC to name,
// if -memprofile asks for one.
func writeHeapProfile(name string) error {
	if *memprofile == "" {
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}
