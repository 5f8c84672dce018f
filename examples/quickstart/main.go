// Command quickstart bills a small simulated workload through the exporter
// and prints, per series, what was counted next to what the backend
// received.
//
// With LITEWAVE_ENDPOINT, LITEWAVE_BACKEND and LITEWAVE_KAFKA_REST_URL
// unset it starts an embedded fake backend (litewavetest) that fails some
// requests, so the run also shows retries; every request goes there, and
// the other LITEWAVE_* variables (a portal, a key, a spool) are ignored,
// by name in its output:
//
//	go run ./examples/quickstart
//
// With any of those three set, the LITEWAVE_* variables configure it, and
// it bills the backend they name.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

var (
	tenants     = []string{"acme", "globex", "initech"}
	devices     = []string{"scanner-1", "scanner-2"}
	interval    = flag.Duration("interval", 200*time.Millisecond, "collection interval")
	collections = flag.Int("collections", 5, "collections to run")
	failRate    = flag.Float64("fail", 0.2, "share of requests the embedded backend fails (503 or dropped connection)")
)

type seriesKey struct{ tenant, device, meter string }

func main() {
	flag.Parse()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	// Export errors reach otel.Handle; keep them to show after the table.
	var reports errorLog
	otel.SetErrorHandler(&reports)
	var backend *litewavetest.Server
	if embedded() {
		backend = embeddedBackend()
		defer backend.Close()
		fmt.Printf("LITEWAVE_ENDPOINT, LITEWAVE_BACKEND and LITEWAVE_KAFKA_REST_URL are not set: billing an embedded fake backend at %s (failing %.0f%% of requests)\n", backend.URL, *failRate*100)
		if ignored := litewaveVariables(); len(ignored) > 0 {
			fmt.Printf("ignored, so that every request goes to the embedded backend: %s\n", strings.Join(ignored, ", "))
		}
		fmt.Println()
	}

	// The five lines of setup.
	retry := litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond})
	var exp *litewavemetric.Exporter
	var err error
	if backend != nil {
		exp, err = backend.NewExporter(ctx, retry)
	} else {
		exp, err = litewavemetric.New(ctx, retry)
	}
	if err != nil {
		return err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
		litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(*interval))))
	meter := provider.Meter("quickstart")
	pages, _ := meter.Int64Counter("pages.processed", metric.WithDescription("pages processed"))
	tokens, _ := meter.Float64Counter("tokens.thousands", metric.WithDescription("LLM tokens, in thousands"))

	// The simulated workload: every tick, some tenants process some pages.
	counted := map[seriesKey]float64{}
	rng := rand.New(rand.NewPCG(7, 11))
	deadline := time.Now().Add(time.Duration(*collections) * *interval)
	for time.Now().Before(deadline) {
		t, d := tenants[rng.IntN(len(tenants))], devices[rng.IntN(len(devices))]
		attrs := metric.WithAttributes(attribute.String("tenant.id", t), attribute.String("device.id", d))
		n := int64(1 + rng.IntN(5))
		// Thousands of tokens, in eighths: binary floats add eighths
		// exactly, so the floor of the total is the same however the
		// additions are grouped.
		k := float64(1+rng.IntN(8)) / 8
		pages.Add(ctx, n, attrs)
		tokens.Add(ctx, k, attrs)
		counted[seriesKey{t, d, "pages.processed"}] += float64(n)
		counted[seriesKey{t, d, "tokens.thousands"}] += k
		time.Sleep(*interval / 20)
	}

	// Shutdown exports the last collection and delivers what is owed.
	shutdownCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := provider.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	err = report(counted, backend, exp.Stats())
	reports.print()
	if err == nil && backend != nil {
		fmt.Println("\nnext: see your usage in a browser, on a local stand-in for Litewave: go run ./cmd/litewave dev")
	}
	return err
}

// embedded says whether to bill the embedded backend: when none of the
// variables that choose where usage goes is set.
func embedded() bool {
	for _, name := range []string{"LITEWAVE_ENDPOINT", "LITEWAVE_BACKEND", "LITEWAVE_KAFKA_REST_URL"} {
		if strings.TrimSpace(os.Getenv(name)) != "" {
			return false
		}
	}
	return true
}

// litewaveVariables names the LITEWAVE_* variables set (the exporter reads
// no empty one), without their values, which may be secrets.
func litewaveVariables() []string {
	var names []string
	for _, kv := range os.Environ() {
		if name, v, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "LITEWAVE_") && strings.TrimSpace(v) != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// errorLog collects what the SDK passes to otel.Handle.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) Handle(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) print() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return
	}
	fmt.Printf("\nthe exporter reported %d times while requests failed (usage kept and retried):\n", len(l.errs))
	for _, err := range l.errs[:min(3, len(l.errs))] {
		fmt.Println("  -", err)
	}
}

func embeddedBackend() *litewavetest.Server {
	opts := []litewavetest.Option{}
	for i, t := range tenants {
		opts = append(opts, litewavetest.WithCustomer(t, fmt.Sprintf("cus_%03d", i+1)))
	}
	srv := litewavetest.NewServer(opts...)
	var mu sync.Mutex // the handler runs on many goroutines at once
	rng := rand.New(rand.NewPCG(1, 2))
	srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		mu.Lock()
		x := rng.Float64()
		mu.Unlock()
		switch {
		case x < *failRate/2:
			return litewavetest.Fault{Status: http.StatusServiceUnavailable}
		case x < *failRate:
			return litewavetest.Fault{Target: "events", DropAfterRecord: true}
		}
		return litewavetest.Fault{}
	})
	return srv
}

func report(counted map[seriesKey]float64, backend *litewavetest.Server, st litewavemetric.Stats) error {
	keys := make([]seriesKey, 0, len(counted))
	for k := range counted {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.tenant+a.device+a.meter < b.tenant+b.device+b.meter
	})
	var totals map[litewavetest.Series]int64
	if backend != nil {
		totals = backend.Totals()
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "tenant\tdevice\tmeter\tcounted\tbillable\treceived\t\t")
	allMatch := true
	for _, k := range keys {
		billable := int64(math.Floor(counted[k]))
		received, match := "n/a", ""
		if totals != nil {
			got := totals[litewavetest.Series{Tenant: k.tenant, Device: k.device, Meter: k.meter}]
			received, match = fmt.Sprint(got), "ok"
			if got != billable {
				match, allMatch = "MISMATCH", false
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", k.tenant, k.device, k.meter, formatCount(counted[k]), billable, received, match)
	}
	w.Flush()
	fmt.Printf("\nexporter: %d events delivered (%d units), %d retries, %d customer lookups, %d units owed, %d rejected\n",
		st.DeliveredEvents, st.DeliveredUnits, st.Retries, st.Lookups.Requests, st.OwedUnits, st.RejectedUnits)
	if backend != nil {
		bs := backend.Stats()
		fmt.Printf("backend:  %d requests, %d faults injected, %d events accepted, %d duplicates suppressed by idempotency key\n",
			bs.Requests, bs.Faults, bs.Accepted, bs.Duplicates)
		if !allMatch {
			return errors.New("some series do not match: received != floor(counted)")
		}
		fmt.Println("every series: received = floor(counted)")
		return nil
	}
	fmt.Println("received: n/a, since the backend is not this program's to read; with litewave dev it is on the dev server's page")
	return nil
}

func formatCount(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprint(int64(v))
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
