package litewavemetric_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// unresolvable is an HTTP client whose every dial fails as a host that
// does not resolve: no test reaches a resolver.
func unresolvable() *http.Client {
	dns := &net.DNSError{Err: "no such host", Name: "metering.example", IsNotFound: true}
	return &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, dns }}}
}

// A configuration problem is a definite answer: waiting cannot fix it.
// The five-line program shuts down with a 30 s deadline; Shutdown ends
// within 5 s (the bound), after one round of attempts, with the
// UndeliveredError that counts what is owed and names the fix. The
// default retry policy is used: the flush's own retries are what is
// tested.
func TestConfigurationProblemsEndShutdownEarly(t *testing.T) {
	cases := map[string]struct {
		server func(t *testing.T) *litewavetest.Server
		opts   func(t *testing.T, srv *litewavetest.Server) []litewavemetric.Option
		fix    func(srv *litewavetest.Server) []string
	}{
		"refused key": {
			server: func(t *testing.T) *litewavetest.Server {
				return newServer(t, litewavetest.WithCustomer("acme", "c1"), litewavetest.WithAPIKey("right"))
			},
			opts: func(_ *testing.T, srv *litewavetest.Server) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(srv.URL), litewavemetric.WithAPIKey("wrong")}
			},
			fix: fixed("HTTP 401", "the API key was refused: check LITEWAVE_API_KEY"),
		},
		"403": {
			server: func(t *testing.T) *litewavetest.Server {
				srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
				srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return litewavetest.Fault{Status: http.StatusForbidden} })
				return srv
			},
			opts: func(_ *testing.T, srv *litewavetest.Server) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(srv.URL)}
			},
			fix: fixed("HTTP 403", "the API key was refused: check LITEWAVE_API_KEY"),
		},
		"wrong-path 404": {
			server: func(t *testing.T) *litewavetest.Server { return newServer(t, litewavetest.WithCustomer("acme", "c1")) },
			opts: func(_ *testing.T, srv *litewavetest.Server) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint(srv.URL + "/api")}
			},
			fix: func(srv *litewavetest.Server) []string {
				return []string{`nothing serves this API at "` + srv.URL + `/api/api/v1/customer-accounts/tenant/acme": check LITEWAVE_ENDPOINT`}
			},
		},
		"TLS against plain HTTP": {
			server: func(t *testing.T) *litewavetest.Server { return newServer(t, litewavetest.WithCustomer("acme", "c1")) },
			opts: func(_ *testing.T, srv *litewavetest.Server) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint("https://" + strings.TrimPrefix(srv.URL, "http://"))}
			},
			fix: fixed("server gave HTTP response to HTTPS client; the server does not speak TLS (HTTPS) there: use http:// in LITEWAVE_ENDPOINT"),
		},
		"unresolvable host, with a spool": {
			server: func(t *testing.T) *litewavetest.Server { return newServer(t) },
			opts: func(t *testing.T, _ *litewavetest.Server) []litewavemetric.Option {
				return []litewavemetric.Option{litewavemetric.WithEndpoint("http://metering.example"),
					litewavemetric.WithHTTPClient(unresolvable()), litewavemetric.WithSpoolDir(t.TempDir())}
			},
			fix: fixed("the host does not resolve: check LITEWAVE_ENDPOINT", "kept in the spool for the next start"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			handleErrors(t)
			srv := tc.server(t)
			exp, err := litewavemetric.New(context.Background(), tc.opts(t, srv)...)
			require.NoError(t, err)
			p := pipelineOf(t, exp, pipelineOpts{})
			p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
			requireEndsEarly(t, p, 24, tc.fix(srv)...)
		})
	}
}

func fixed(fix ...string) func(*litewavetest.Server) []string {
	return func(*litewavetest.Server) []string { return fix }
}

// requireEndsEarly shuts p down with a 30 s deadline and checks that it
// ends within 5 s with an UndeliveredError owing units and naming the fix.
func requireEndsEarly(t *testing.T, p *pipeline, units int64, fix ...string) {
	t.Helper()
	start := time.Now()
	err := p.shutdownWithin(30 * time.Second)
	took := time.Since(start)
	t.Logf("Shutdown returned after %v: %v", took, err)
	assert.Less(t, took, 5*time.Second, "a configuration problem ends the wait")
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, units, ue.Units, "what is owed is counted")
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "it did not wait out its deadline")
	assert.Contains(t, err.Error(), "retrying cannot fix")
	for _, f := range fix {
		assert.Contains(t, err.Error(), f)
	}
}

// Kafka: a missing topic, known from its metadata at start, and SASL
// credentials the brokers refuse end the wait as well.
func TestKafkaConfigurationProblemsEndShutdownEarly(t *testing.T) {
	t.Run("missing topic", func(t *testing.T) {
		handleErrors(t)
		srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
		cluster := newKafka(t)
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL),
			litewavemetric.WithBackend(litewavemetric.BackendKafka), litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: cluster.ListenAddrs(), Topic: "not-there"}))
		require.NoError(t, err)
		p := pipelineOf(t, exp, pipelineOpts{})
		p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
		requireEndsEarly(t, p, 24, "topic not-there does not exist: create it, or set LITEWAVE_KAFKA_TOPIC")
	})
	t.Run("refused SASL credentials", func(t *testing.T) {
		handleErrors(t)
		srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
		cluster := newKafka(t, kfake.EnableSASL(), kfake.Superuser("PLAIN", "alice", "right-password"))
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL),
			litewavemetric.WithBackend(litewavemetric.BackendKafka), litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: cluster.ListenAddrs(), SASLMechanism: "PLAIN", SASLUsername: "alice", SASLPassword: "wrong-password"}))
		require.NoError(t, err)
		p := pipelineOf(t, exp, pipelineOpts{})
		p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
		requireEndsEarly(t, p, 24, "check LITEWAVE_KAFKA_SASL_MECHANISM, LITEWAVE_KAFKA_SASL_USERNAME and LITEWAVE_KAFKA_SASL_PASSWORD")
	})
}

// Waiting may fix the rest, so the flush waits while its context lasts: a
// host that does not resolve without a spool (a DNS blip would lose the
// usage at exit), a tenant whose account may be created meanwhile, and an
// outage, even beside a configuration problem.
func TestOutagesAndPassingProblemsKeepTheWait(t *testing.T) {
	const deadline = 300 * time.Millisecond
	t.Run("unresolvable host, no spool", func(t *testing.T) {
		handleErrors(t)
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint("http://metering.example"),
			litewavemetric.WithHTTPClient(unresolvable()))
		require.NoError(t, err)
		p := pipelineOf(t, exp, pipelineOpts{})
		p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
		err = p.shutdownWithin(deadline)
		require.ErrorIs(t, err, context.DeadlineExceeded, "it waited while its context lasted")
		var dns *net.DNSError
		assert.ErrorAs(t, err, &dns)
	})
	t.Run("tenant without an account", func(t *testing.T) {
		handleErrors(t)
		srv := newServer(t)
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL))
		require.NoError(t, err)
		p := pipelineOf(t, exp, pipelineOpts{})
		p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
		err = p.flushWithin(deadline)
		require.ErrorIs(t, err, context.DeadlineExceeded, "an account created meanwhile would have been found")
		assert.ErrorIs(t, err, litewavemetric.ErrNoCustomer)
	})
	t.Run("outage beside a configuration problem", func(t *testing.T) {
		handleErrors(t)
		srv := newServer(t, litewavetest.WithCustomer("acme", "c1"), litewavetest.WithCustomer("barred", "c2"))
		srv.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
			status := http.StatusServiceUnavailable
			if r.Header.Get("X-Tenant-Id") == "barred" {
				status = http.StatusForbidden
			}
			return litewavetest.Fault{Target: "events", Status: status}
		})
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL))
		require.NoError(t, err)
		p := pipelineOf(t, exp, pipelineOpts{})
		c := p.counter("pages")
		c.Add(context.Background(), 24, at("acme", "scanner-1"))
		c.Add(context.Background(), 5, at("barred", "scanner-1"))
		err = p.flushWithin(deadline)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the outage is retried while the context lasts")
		assert.Contains(t, err.Error(), "HTTP 403", "and the configuration problem is named")
		var ue *litewavemetric.UndeliveredError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, int64(29), ue.Units)
		assert.Greater(t, srv.Stats().Posts, int64(2), "the outage was retried")
	})
}

// A configuration problem fixed before the flush is not taken on its old
// answer: every owed event is attempted again during the flush, and goes.
func TestFixedConfigurationIsRetriedByTheFlush(t *testing.T) {
	handleErrors(t)
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
	var forbidden atomic.Bool
	forbidden.Store(true)
	srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault {
		if forbidden.Load() {
			return litewavetest.Fault{Target: "events", Status: http.StatusForbidden}
		}
		return litewavetest.Fault{}
	})
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL), slowRetry)
	require.NoError(t, err)
	p := pipelineOf(t, exp, pipelineOpts{})
	p.counter("pages").Add(context.Background(), 24, at("acme", "scanner-1"))
	var ue *litewavemetric.UndeliveredError
	require.ErrorAs(t, p.flushWithin(30*time.Second), &ue)
	forbidden.Store(false)
	require.NoError(t, p.flushWithin(30*time.Second), "the flush tried again rather than repeat the old answer")
	assert.Equal(t, int64(24), srv.Total())
}
