package litewavemetric_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// The crash tests re-execute the test binary as a child that counts usage,
// exports it with a spool, reports what it counted, and waits to be killed.
// With crashCompleteEnv set it shuts down instead, and reports how: the
// same compiled program, configured by its environment alone.
const (
	crashChildEnv    = "LITEWAVE_CRASH_CHILD"
	crashSeriesEnv   = "LITEWAVE_CRASH_SERIES"
	crashCompleteEnv = "LITEWAVE_CRASH_COMPLETE"
	// crashSteadyEnv selects crashSteadyChild: one collection in steady
	// state, reported before it is exported.
	crashSteadyEnv = "LITEWAVE_CRASH_STEADY"
)

// crashReport is the child's last word before it is killed: what it counted
// and handed to Export, per series, and Shutdown's error if it shut down.
type crashReport struct {
	Counted  map[string]int64 `json:"counted"`
	Shutdown string           `json:"shutdown,omitempty"`
}

func crashKey(tenant, device, meter string) string { return tenant + "|" + device + "|" + meter }

// crashPipeline is a child's exporter, configured by the environment as in
// production, in a provider whose collections only ForceFlush takes, with
// a counter whose usage the report counts.
type crashPipeline struct {
	provider *sdkmetric.MeterProvider
	pages    metric.Int64Counter
	report   crashReport
}

func newCrashPipeline(ctx context.Context) (*crashPipeline, error) {
	exp, err := litewavemetric.New(ctx)
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	pages, _ := provider.Meter("crash").Int64Counter("pages")
	return &crashPipeline{provider: provider, pages: pages, report: crashReport{Counted: map[string]int64{}}}, nil
}

func (p *crashPipeline) add(ctx context.Context, tenant, device string, v int64) {
	p.pages.Add(ctx, v, metric.WithAttributes(attribute.String("tenant.id", tenant), attribute.String("device.id", device)))
	p.report.Counted[crashKey(tenant, device, "pages")] += v
}

// flush is the provider's ForceFlush, bounded as a test must be.
func (p *crashPipeline) flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return p.provider.ForceFlush(ctx)
}

// printReport writes what was counted for the parent to read.
func (p *crashPipeline) printReport() error { return json.NewEncoder(os.Stdout).Encode(p.report) }

// crashChild is the child's main. Its endpoint and spool come from the
// environment, as in production.
func crashChild() int {
	ctx := context.Background()
	n, _ := strconv.Atoi(os.Getenv(crashSeriesEnv))
	if os.Getenv(crashSteadyEnv) != "" {
		return crashSteadyChild(n)
	}
	if os.Getenv(crashFlushedEnv) != "" {
		return crashFlushedChild(n)
	}
	exp, err := litewavemetric.New(ctx, litewavemetric.WithTimeout(2*time.Second), litewavemetric.WithConcurrency(4),
		litewavemetric.WithRetry(litewavemetric.RetryConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: 100 * time.Millisecond}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// As an application runs it: a billing reader and the provider's
	// ForceFlush, which takes each collection into the spool. The reader's
	// export timeout bounds how long an Export waits for first attempts, so
	// every flush below collects and exports before its context ends.
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp,
		sdkmetric.WithInterval(time.Hour), sdkmetric.WithTimeout(100*time.Millisecond))))
	pages, _ := provider.Meter("crash").Int64Counter("pages")
	tokens, _ := provider.Meter("crash").Float64Counter("tokens")
	report := crashReport{Counted: map[string]int64{}}
	floats := map[string]float64{}
	for c := range 3 {
		for i := range n {
			tenant, device := tenantID(i%7), "dev-"+strconv.Itoa(i)
			attrs := metric.WithAttributes(attribute.String("tenant.id", tenant), attribute.String("device.id", device))
			pages.Add(ctx, int64(c+i%5+1), attrs)
			tokens.Add(ctx, 0.75, attrs)
			report.Counted[crashKey(tenant, device, "pages")] += int64(c + i%5 + 1)
			floats[crashKey(tenant, device, "tokens")] += 0.75
		}
		// A short context: the flush returns with the usage spooled, while
		// delivery goes on in the background.
		fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_ = provider.ForceFlush(fctx)
		cancel()
	}
	for k, v := range floats {
		report.Counted[k] = int64(v)
	}
	if os.Getenv(crashCompleteEnv) != "" {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := provider.Shutdown(sctx); err != nil {
			report.Shutdown = err.Error()
		}
		if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
			return 2
		}
		return 0
	}
	if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
		return 2
	}
	time.Sleep(time.Hour) // wait for SIGKILL
	return 0
}

// startCrashChild runs the child until it has exported everything, and
// returns it (still running) with what it counted.
func startCrashChild(t *testing.T, endpoint, spool string, series int, env ...string) (*exec.Cmd, crashReport) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashSeriesEnv+"="+strconv.Itoa(series),
		"LITEWAVE_ENDPOINT"+"="+endpoint, "LITEWAVE_SPOOL_DIR"+"="+spool)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var rep crashReport
	require.NoError(t, json.NewDecoder(bufio.NewReader(out)).Decode(&rep), "the child reports what it counted")
	return cmd, rep
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
}

// recoverFromSpool starts a fresh process's pipeline on the spool, against
// srv, and shuts it down through the provider once all is delivered.
func recoverFromSpool(t *testing.T, srv *litewavetest.Server, spool string, opts ...litewavemetric.Option) *litewavemetric.Exporter {
	t.Helper()
	p := newPipeline(t, srv, append(opts, litewavemetric.WithSpoolDir(spool))...)
	require.NoError(t, p.flush())
	require.NoError(t, p.shutdownWithin(20*time.Second))
	return p.exp
}

func totalsByKey(srv *litewavetest.Server) map[string]int64 {
	out := map[string]int64{}
	for s, v := range srv.Totals() {
		out[crashKey(s.Tenant, s.Device, s.Meter)] = v
	}
	return out
}

// Killed with SIGKILL while its backend is dead, a process loses nothing it
// exported: the next process on the same spool delivers exactly that.
func TestCrashWithDeadBackendLosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	spool := t.TempDir()
	cmd, rep := startCrashChild(t, deadEndpoint(t), spool, 40)
	kill(t, cmd)

	srv := newServer(t, customers(7)...)
	exp := recoverFromSpool(t, srv, spool)
	assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "[counted, billed]")
	assert.Empty(t, srv.Conflicts())
	t.Logf("killed child counted %d units in %d series; the next process delivered %d (%d events)",
		sum(rep.Counted), len(rep.Counted), srv.Total(), exp.Stats().DeliveredEvents)
}

// Killed in the middle of a delivery round, some events were received but
// not yet acknowledged to the spool: the next process resends them with the
// same keys and bytes, and the backend counts them once.
func TestCrashMidDeliveryIsBilledOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	srv := newServer(t, customers(7)...)
	slow := make(chan struct{})
	srv.SetFaultFunc(func(r *http.Request, n int) litewavetest.Fault {
		select {
		case <-slow:
			return litewavetest.Fault{}
		default:
		}
		if r.Method == http.MethodPost && n%3 == 0 {
			return litewavetest.Fault{DropAfterRecord: true}
		}
		return litewavetest.Fault{Delay: 20 * time.Millisecond}
	})
	spool := t.TempDir()
	cmd, rep := startCrashChild(t, srv.URL, spool, 40)
	// Polls for the moment to kill; nothing is asserted by timing.
	require.Eventually(t, func() bool { return srv.Stats().Accepted >= 20 }, 30*time.Second, 5*time.Millisecond)
	kill(t, cmd)
	before := srv.Stats()
	require.Less(t, before.Accepted, int64(len(rep.Counted)*3), "killed before delivery finished")

	close(slow)
	recoverFromSpool(t, srv, spool)
	assert.Empty(t, mismatches(rep.Counted, totalsByKey(srv)), "each key counted once: nothing lost, nothing twice")
	assert.Empty(t, srv.Conflicts(), "replays carry the original bytes")
	after := srv.Stats()
	assert.Greater(t, after.Duplicates, before.Duplicates, "the next process resent events already received, with their keys")
	t.Logf("killed after %d events accepted; the next process resent %d already received (suppressed as duplicates) and delivered the rest: %d units in %d series",
		before.Accepted, after.Duplicates-before.Duplicates, srv.Total(), len(rep.Counted))
}
