package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
)

// childEnv makes the test binary a replica: it bills usage through an
// exporter with a spool, configured by the environment alone, as in
// production, and reports what it counted. Its value says how it ends:
// "kill" waits to be killed, "exit" shuts the provider down and exits.
const childEnv = "LITEWAVE_CLI_TEST_CHILD"

// counted is usage per series, keyed "tenant/device/meter".
type counted map[string]int64

func seriesKey(tenant, device, meter string) string { return tenant + "/" + device + "/" + meter }

func (c counted) total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// only is the part of c whose tenant is tenant.
func (c counted) only(tenant string) counted {
	out := counted{}
	for k, v := range c {
		if strings.HasPrefix(k, tenant+"/") {
			out[k] = v
		}
	}
	return out
}

var childTenants = []string{"acme", "globex", "initech"}

// spoolChild is the replica's main.
func spoolChild(mode string) int {
	ctx := context.Background()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) // the outage is the point
	exp, err := litewavemetric.New(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// As an application runs it: a billing reader and the provider's
	// ForceFlush, which takes each collection into the spool before any
	// network call; its short deadline leaves delivery to the background.
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp,
		sdkmetric.WithInterval(time.Hour), sdkmetric.WithTimeout(100*time.Millisecond))))
	pages, _ := provider.Meter("replica").Int64Counter("pages.processed")
	tokens, _ := provider.Meter("replica").Float64Counter("tokens")
	report := counted{}
	floats := map[string]float64{}
	for round := range 2 {
		for i, tenant := range childTenants {
			for d := range 2 {
				device := fmt.Sprintf("scanner-%d", d+1)
				attrs := metric.WithAttributes(attribute.String("tenant.id", tenant), attribute.String("device.id", device))
				n := int64(10*(i+1) + d + round)
				pages.Add(ctx, n, attrs)
				tokens.Add(ctx, 0.75, attrs)
				report[seriesKey(tenant, device, "pages.processed")] += n
				floats[seriesKey(tenant, device, "tokens")] += 0.75
			}
		}
		fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_ = provider.ForceFlush(fctx)
		cancel()
	}
	for k, v := range floats {
		report[k] = int64(v) // billed: the floor of what was counted
	}
	if mode == "exit" {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = provider.Shutdown(sctx) // what is not delivered stays in the spool
	}
	if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
		return 2
	}
	if mode == "kill" {
		time.Sleep(time.Hour) // until SIGKILL
	}
	return 0
}

// startReplica runs the replica on spool against endpoint (and the
// variables env) until it has exported everything, and returns it with
// what it counted; in "kill" mode it is still running, holding the spool.
func startReplica(t *testing.T, mode, endpoint, spool string, env ...string) (*exec.Cmd, counted) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(cleanEnv(), childEnv+"="+mode,
		"LITEWAVE_ENDPOINT="+endpoint, "LITEWAVE_SPOOL_DIR="+spool,
		"LITEWAVE_TIMEOUT=1s", "LITEWAVE_RETRY_INITIAL_INTERVAL=50ms", "LITEWAVE_RETRY_MAX_INTERVAL=100ms")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var c counted
	require.NoError(t, json.NewDecoder(bufio.NewReader(out)).Decode(&c), "the replica reports what it counted")
	return cmd, c
}

func killReplica(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
}
