package litewavemetric_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// production stands for the real Litewave, portal, REST Proxy and brokers
// that a developer's shell may name: it records every HTTP request and
// every TCP connection it receives, and answers nothing useful.
type production struct {
	web      *httptest.Server
	brokers  net.Listener
	spool    string // LITEWAVE_SPOOL_DIR, which must stay empty
	mu       sync.Mutex
	received []string
}

func newProduction(t *testing.T) *production {
	p := &production{spool: t.TempDir()}
	p.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.note(r.Method + " " + r.URL.Path)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(p.web.Close)
	var err error
	p.brokers, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := p.brokers.Accept()
			if err != nil {
				return
			}
			p.note("connection to the brokers")
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = p.brokers.Close()
		<-accepting
	})
	return p
}

func (p *production) note(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.received = append(p.received, what)
}

// untouched asserts that production received nothing and that nothing was
// written to its spool.
func (p *production) untouched(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	assert.Empty(t, p.received, "production received requests")
	p.mu.Unlock()
	spooled, err := os.ReadDir(p.spool)
	require.NoError(t, err)
	assert.Empty(t, spooled, "something was written to LITEWAVE_SPOOL_DIR")
}

// prodKey is the API key production would take, never to be sent.
const prodKey = "prod-key-never-sent"

// env is every LITEWAVE_* variable the package reads, as a developer's
// shell configured for production holds them.
func (p *production) env(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{
		"LITEWAVE_BACKEND":                   litewavemetric.BackendKafkaREST,
		"LITEWAVE_ENDPOINT":                  p.web.URL,
		"LITEWAVE_API_KEY":                   prodKey,
		"LITEWAVE_PORTAL_URL":                p.web.URL,
		"LITEWAVE_KAFKA_REST_URL":            p.web.URL,
		"LITEWAVE_KAFKA_TOPIC":               "prod-usage",
		"LITEWAVE_KAFKA_REST_MAX_RECORDS":    "100",
		"LITEWAVE_KAFKA_REST_MAX_BYTES":      "65536",
		"LITEWAVE_KAFKA_BROKERS":             p.brokers.Addr().String(),
		"LITEWAVE_KAFKA_TLS":                 "false",
		"LITEWAVE_KAFKA_SASL_MECHANISM":      "PLAIN",
		"LITEWAVE_KAFKA_SASL_USERNAME":       "billing",
		"LITEWAVE_KAFKA_SASL_PASSWORD":       "prod-password-never-sent",
		"LITEWAVE_KAFKA_TRANSACTIONS":        "true",
		"LITEWAVE_KAFKA_CHECKPOINT_TOPIC":    "prod-usage.checkpoints",
		"LITEWAVE_KAFKA_TRANSACTION_TIMEOUT": "20s",
		"LITEWAVE_TIMEOUT":                   "5s",
		"LITEWAVE_CONCURRENCY":               "8",
		"LITEWAVE_SPOOL_DIR":                 p.spool,
		"LITEWAVE_MAX_SPOOL_BYTES":           "1048576",
		"LITEWAVE_INSTANCE_ID":               "prod-1",
		"LITEWAVE_TENANT_ATTRIBUTE":          "prod.tenant",
		"LITEWAVE_DEVICE_ATTRIBUTE":          "prod.device",
		"LITEWAVE_METER_IDS":                 "pages.processed=prod.pages",
		"LITEWAVE_INSTRUMENTS":               "prod.only",
		"LITEWAVE_MAX_SERIES":                "10",
		"LITEWAVE_CARDINALITY_LIMIT":         "10",
		"LITEWAVE_STALENESS":                 "1h",
		"LITEWAVE_RETRY_INITIAL_INTERVAL":    "1s",
		"LITEWAVE_RETRY_MAX_INTERVAL":        "2m",
		"LITEWAVE_RETRY_MAX_RETRY_AFTER":     "10m",
		"LITEWAVE_CUSTOMER_CACHE_HIT":        "10m",
		"LITEWAVE_CUSTOMER_CACHE_MISS":       "1m",
		"LITEWAVE_LOG_LEVEL":                 "debug",
	}
	// A variable added to the package without a value here would go
	// untested.
	src, err := os.ReadFile("config.go")
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`"(LITEWAVE_[A-Z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		require.Contains(t, env, m[1], "the hostile environment has no value for %s", m[1])
	}
	return env
}

// environ is the test's environment without its own LITEWAVE_* variables,
// plus env.
func environ(env map[string]string) []string {
	out := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "LITEWAVE_") })
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// A test that takes its exporter and Client from litewavetest bills the
// fake alone, whatever LITEWAVE_* variables the shell exported: no request
// reaches production, nothing is spooled, the key is not sent, and every
// unit counted is billed to the fake as the test counted it.
func TestTestServerExporterBillsOnlyTheFake(t *testing.T) {
	prod := newProduction(t)
	for k, v := range prod.env(t) {
		t.Setenv(k, v)
	}
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_001"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	p := pipelineOf(t, srv.Exporter(t), pipelineOpts{})
	p.counter("pages.processed").Add(ctx, 5, at("acme", "scanner-1"))
	require.NoError(t, p.flush())
	assert.Equal(t, map[litewavetest.Series]int64{series("acme", "scanner-1", "pages.processed"): 5}, srv.Totals())

	// The REST Proxy URL is the fake's too.
	rest := pipelineOf(t, srv.Exporter(t, litewavemetric.WithBackend(litewavemetric.BackendKafkaREST)), pipelineOpts{})
	rest.counter("pages.processed").Add(ctx, 2, at("acme", "scanner-1"))
	require.NoError(t, rest.flush())
	assert.Len(t, srv.Records(), 1)

	client, err := srv.NewClient()
	require.NoError(t, err)
	defer client.Close()
	_, err = client.PostMeterUsage(ctx, "acme", "scanner-2", "pages.processed", 3)
	require.NoError(t, err)

	assert.Equal(t, int64(10), srv.Total())
	for _, r := range srv.Requests() {
		assert.Empty(t, r.Header.Get("x-api-key"), "%s %s carried a key", r.Method, r.Path)
	}
	prod.untouched(t)
}

// Variables that do not parse do not fail an exporter that ignores them.
func TestWithoutEnvironmentIgnoresVariablesThatDoNotParse(t *testing.T) {
	for _, name := range []string{"LITEWAVE_TIMEOUT", "LITEWAVE_KAFKA_TLS", "LITEWAVE_BACKEND", "LITEWAVE_LOG_LEVEL", "LITEWAVE_MAX_SERIES"} {
		t.Setenv(name, "not-a-value")
	}
	_, err := litewavemetric.NewClient()
	require.Error(t, err, "the variables are read without the option")
	client, err := litewavemetric.NewClient(litewavemetric.WithoutEnvironment(), litewavemetric.WithEndpoint("http://127.0.0.1:1"))
	require.NoError(t, err)
	require.NoError(t, client.Close())
}

// goCommand is the go command, or skips: the tests below build and run
// what users run.
func goCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the examples in child processes")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on the PATH")
	}
	return goBin
}

// run runs a child process with env and returns its output; it fails the
// test if the child fails or outlasts its bound.
func run(t *testing.T, bound time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// With every LITEWAVE_* variable exported and naming production,
// `go test -run ^Example ./...` passes, and production receives nothing.
func TestExamplesIgnoreAHostileEnvironment(t *testing.T) {
	t.Parallel()
	goBin := goCommand(t)
	prod := newProduction(t)
	// One package at a time, one core: other tests of the suite run beside
	// this one.
	env := append(environ(prod.env(t)), "GOMAXPROCS=1")
	out := run(t, 5*time.Minute, env, goBin, "test", "-p", "1", "-count=1", "-v", "-run", "^Example", "./...")
	for _, example := range []string{"ExampleNew", "ExampleClient_PostMeterUsage", "ExampleWithMeterID", "Example_testingInstrumentation"} {
		assert.Contains(t, out, "--- PASS: "+example+" ", "the example did not run")
	}
	prod.untouched(t)
}

// The example programs that bill an embedded fake (the quickstart when
// LITEWAVE_ENDPOINT, LITEWAVE_BACKEND and LITEWAVE_KAFKA_REST_URL are
// unset) send nothing elsewhere, whatever the portal, key, spool and the
// other variables say; the quickstart names the variables it ignored, and
// bills every series exactly.
func TestEmbeddedExampleProgramsIgnoreAHostileEnvironment(t *testing.T) {
	t.Parallel()
	goBin := goCommand(t)
	bin := t.TempDir()
	run(t, 3*time.Minute, os.Environ(), goBin, "build", "-o", bin+string(filepath.Separator),
		"./examples/quickstart", "./examples/cardinality", "./examples/dedicated-provider")
	prod := newProduction(t)
	hostile := prod.env(t)
	for _, chooser := range []string{"LITEWAVE_ENDPOINT", "LITEWAVE_BACKEND", "LITEWAVE_KAFKA_REST_URL"} {
		delete(hostile, chooser)
	}
	ignored := make([]string, 0, len(hostile))
	for k := range hostile {
		ignored = append(ignored, k)
	}
	slices.Sort(ignored)

	out := run(t, 2*time.Minute, environ(hostile), filepath.Join(bin, "quickstart"), "-collections", "3", "-interval", "100ms")
	assert.Contains(t, out, "\nignored, so that every request goes to the embedded backend: "+strings.Join(ignored, ", ")+"\n")
	assert.Contains(t, out, "every series: received = floor(counted)")
	assert.NotContains(t, out, prodKey)
	run(t, 2*time.Minute, environ(hostile), filepath.Join(bin, "cardinality"))
	out = run(t, 2*time.Minute, environ(hostile), filepath.Join(bin, "dedicated-provider"))
	assert.Contains(t, out, "billed to Litewave: 30 pages for acme/web-1")
	prod.untouched(t)
}

// The README's compiled quickstart, configured by the environment alone,
// bills the backend the variables name: the events API with a key, or a
// REST Proxy with customers at the portal.
func TestQuickstartBillsTheBackendItsEnvironmentNames(t *testing.T) {
	t.Parallel()
	goBin := goCommand(t)
	bin := filepath.Join(t.TempDir(), "billing-demo")
	run(t, 3*time.Minute, os.Environ(), goBin, "build", "-o", bin, "./examples/quickstart")
	for _, c := range []struct {
		name   string
		server litewavetest.Option // the key the backend wants, where
		env    func(url string) map[string]string
		lookup string // where customers are looked up
		billed func(litewavetest.Stats) int64
	}{
		{"events API", litewavetest.WithAPIKey("real-key"), func(url string) map[string]string {
			return map[string]string{"LITEWAVE_ENDPOINT": url, "LITEWAVE_API_KEY": "real-key"}
		}, "/api/v1/customer-accounts/", func(st litewavetest.Stats) int64 { return st.Accepted }},
		// The REST Proxy never gets the key; the portal wants it.
		{"REST Proxy", litewavetest.WithPortalAPIKey("real-key"), func(url string) map[string]string {
			return map[string]string{"LITEWAVE_BACKEND": litewavemetric.BackendKafkaREST, "LITEWAVE_KAFKA_REST_URL": url,
				"LITEWAVE_PORTAL_URL": url, "LITEWAVE_API_KEY": "real-key"}
		}, "/metering/v1alpha1/customer-accounts/", func(st litewavetest.Stats) int64 { return st.RecordsAccepted }},
	} {
		t.Run(c.name, func(t *testing.T) {
			backend := newServer(t, litewavetest.WithAnyTenant(), c.server)
			out := run(t, 2*time.Minute, environ(c.env(backend.URL)), bin, "-collections", "3", "-interval", "100ms", "-fail", "0")
			assert.NotContains(t, out, "embedded")
			st := backend.Stats()
			assert.Positive(t, c.billed(st))
			assert.Zero(t, st.Unauthorized, "a request went without the key")
			assert.Positive(t, st.Lookups)
			for _, r := range backend.Requests() {
				if strings.Contains(r.Path, "/customer-accounts/") {
					assert.True(t, strings.HasPrefix(r.Path, c.lookup), "a lookup went to %s", r.Path)
				}
			}
		})
	}
}
