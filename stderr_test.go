package litewavemetric_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
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

// fiveLinesEnv makes the test binary the README's five-line program,
// configured by the environment, with otel's own error handler: what a
// user's program prints on stderr is what is tested.
const fiveLinesEnv = "LITEWAVE_TEST_FIVE_LINES"

func init() {
	if os.Getenv(fiveLinesEnv) != "" {
		os.Exit(fiveLines())
	}
}

// fiveLines bills 24 pages, shuts down within 30 s and prints Shutdown's
// error on stdout, so that stderr holds only what the exporter printed.
func fiveLines() int {
	ctx := context.Background()
	exp, err := litewavemetric.New(ctx)
	if err != nil {
		fmt.Println("New:", err)
		return 1
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
	pages, _ := provider.Meter("billing").Int64Counter("pages.processed")
	pages.Add(ctx, 24, metric.WithAttributes(attribute.String("tenant.id", "acme"), attribute.String("device.id", "scanner-1")))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fmt.Println("Shutdown:", provider.Shutdown(ctx))
	return 0
}

// Each report is one line on stderr, whatever the log level: printed by
// the logger when LITEWAVE_LOG_LEVEL takes it, by otel's handler when it
// does not, never by both.
func TestEachReportIsOneLineOnStderr(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"), litewavetest.WithAPIKey("right"))
	// A line of log.Print (otel's handler) or of slog's text handler; a
	// report spanning lines would leave a line that is neither.
	line := regexp.MustCompile(`^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d |time=)`)
	for _, level := range []string{"", "debug", "info", "warn", "error"} {
		t.Run("LITEWAVE_LOG_LEVEL="+level, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(withoutLitewave(os.Environ()), fiveLinesEnv+"=1",
				"LITEWAVE_ENDPOINT"+"="+srv.URL, "LITEWAVE_API_KEY"+"=wrong")
			if level != "" {
				cmd.Env = append(cmd.Env, "LITEWAVE_LOG_LEVEL"+"="+level)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "stderr: %s", stderr.String())
			assert.Contains(t, string(out), "check LITEWAVE_API_KEY", "Shutdown's error names the fix")
			var reports int
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				assert.Regexp(t, line, l, "every line on stderr is a whole report or log line")
				if strings.Contains(l, "configuration problem since") {
					reports++
				}
			}
			assert.Equal(t, 1, reports, "the refused key is reported once:\n%s", stderr.String())
			t.Logf("stderr:\n%s", stderr.String())
		})
	}
}

// withoutLitewave is env without LITEWAVE_* variables: the child is
// configured by the test alone.
func withoutLitewave(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "LITEWAVE_") {
			out = append(out, kv)
		}
	}
	return out
}
