package kafka

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/aiorch/litewavemetric/internal/usage"
)

const password = "hunter2-s3cret"

func saslCluster(t *testing.T, mechanism string) *kfake.Cluster {
	return newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(3, topic),
		kfake.EnableSASL(), kfake.Superuser(mechanism, "alice", password))
}

// A broker that requires SASL takes usage from a backend configured with
// the right mechanism and credentials.
func TestSASLAuthenticatesWithEachMechanism(t *testing.T) {
	for mech, auth := range map[string]kgo.Opt{
		"PLAIN":         kgo.SASL(plain.Auth{User: "alice", Pass: password}.AsMechanism()),
		"SCRAM-SHA-256": kgo.SASL(scram.Auth{User: "alice", Pass: password}.AsSha256Mechanism()),
		"SCRAM-SHA-512": kgo.SASL(scram.Auth{User: "alice", Pass: password}.AsSha512Mechanism()),
	} {
		t.Run(mech, func(t *testing.T) {
			c := saslCluster(t, mech)
			b := newBackend(t, Config{Brokers: c.ListenAddrs(), SASL: SASL{Mechanism: mech, User: "alice", Password: password}})
			evs := events(20, 2)
			requireDelivered(t, send(t, b, evs))
			assert.Len(t, byKey(t, consume(t, c.ListenAddrs(), auth)), len(evs))
		})
	}
}

// shortDelivery makes franz-go give up on a record after 1 s rather than
// 30 s: a wrong password is only reported when it does.
var shortDelivery = kgo.RecordDeliveryTimeout(time.Second)

func requireSASLConfigError(t *testing.T, out []usage.Outcome) {
	t.Helper()
	for i, o := range out {
		require.Equal(t, usage.Retry, o.Result, "event %d", i)
		require.True(t, usage.IsConfig(o.Err), "event %d: %v", i, o.Err)
		assert.Contains(t, o.Err.Error(), "LITEWAVE_KAFKA_SASL_PASSWORD")
		assert.NotContains(t, o.Err.Error(), "wrong-"+password)
	}
}

// kfake, like some brokers, answers a wrong password by closing the
// connection, which franz-go would retry like an outage until the records
// time out (30 s); the backend's metadata check sees the refusal at once
// and reports it as the credentials' fault, producing nothing.
func TestWrongPasswordIsAConfigurationError(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256"} {
		t.Run(mech, func(t *testing.T) {
			c := saslCluster(t, mech)
			b := newBackend(t, Config{Brokers: c.ListenAddrs(),
				SASL: SASL{Mechanism: mech, User: "alice", Password: "wrong-" + password}})
			start := time.Now()
			out := send(t, b, events(3, 1))
			t.Logf("refused credentials reported after %v", time.Since(start))
			requireSASLConfigError(t, out)
			require.ErrorIs(t, out[0].Err, io.EOF, "the broker's answer: it closed the connection")
			require.NotErrorIs(t, out[0].Err, kgo.ErrRecordTimeout, "no record was buffered to time out")
		})
	}
}

// Kafka itself answers a wrong password with SASL_AUTHENTICATION_FAILED;
// kfake is made to answer so here, for the wrong password only.
func TestKafkasAuthenticationFailureIsAConfigurationError(t *testing.T) {
	c := saslCluster(t, "PLAIN")
	c.ControlKey(kmsg.SASLAuthenticate.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.SASLAuthenticateRequest)
		if strings.HasSuffix(string(req.SASLAuthBytes), "\x00"+password) {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		msg := "Authentication failed: Invalid username or password"
		resp.ErrorMessage = &msg
		return resp, nil, true
	})
	wrong := newBackend(t, Config{Brokers: c.ListenAddrs(), Extra: []kgo.Opt{shortDelivery},
		SASL: SASL{Mechanism: "PLAIN", User: "alice", Password: "wrong-" + password}})
	out := send(t, wrong, events(3, 1))
	requireSASLConfigError(t, out)
	require.ErrorIs(t, out[0].Err, kerr.SaslAuthenticationFailed)

	right := newBackend(t, Config{Brokers: c.ListenAddrs(), SASL: SASL{Mechanism: "PLAIN", User: "alice", Password: password}})
	requireDelivered(t, send(t, right, events(3, 1)))
}

// No format verb shows the password, of SASL or of a Config holding it.
func TestPasswordIsNeverPrinted(t *testing.T) {
	s := SASL{Mechanism: "SCRAM-SHA-256", User: "alice", Password: password}
	cfg := Config{Brokers: []string{"b:9092"}, Topic: topic, SASL: s}
	for _, v := range []any{s, &s, cfg, &cfg} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			got := fmt.Sprintf(verb, v)
			assert.NotContains(t, got, password, verb)
			assert.NotContains(t, got, fmt.Sprintf("%x", password), verb)
		}
	}
	assert.Equal(t, "{SCRAM-SHA-256 alice [redacted]}", fmt.Sprint(s))
	assert.Equal(t, "{Mechanism:SCRAM-SHA-256 User:alice Password:[redacted]}", fmt.Sprintf("%+v", s))
	assert.Equal(t, `kafka.SASL{Mechanism:"SCRAM-SHA-256", User:"alice", Password:"[redacted]"}`, fmt.Sprintf("%#v", s))
	assert.Equal(t, "{  }", fmt.Sprint(SASL{}), "no password, nothing redacted")
}

// New refuses what cannot work, saying why, and never quotes the password.
func TestNewRejectsABadConfig(t *testing.T) {
	ok := Config{Brokers: []string{"127.0.0.1:9092"}, Topic: topic}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no brokers":     {func(c *Config) { c.Brokers = nil }, "no brokers"},
		"no topic":       {func(c *Config) { c.Topic = "" }, "no topic"},
		"negative batch": {func(c *Config) { c.MaxBatch = -1 }, "MaxBatch"},
		"mechanism": {func(c *Config) { c.SASL = SASL{Mechanism: "GSSAPI", User: "u", Password: password} },
			`unknown SASL mechanism "GSSAPI"`},
		"no mechanism": {func(c *Config) { c.SASL = SASL{User: "u", Password: password} }, "without a mechanism"},
		"no password":  {func(c *Config) { c.SASL = SASL{Mechanism: "PLAIN", User: "u"} }, "needs a user and a password"},
		"franz-go":     {func(c *Config) { c.Extra = []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck())} }, "idempotency requires acks=all"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			b, err := New(cfg)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), password)
		})
	}

	b, err := New(Config{Brokers: ok.Brokers, Topic: topic, SASL: SASL{Mechanism: "scram-sha-512", User: "u", Password: password}})
	require.NoError(t, err, "mechanism names are case-insensitive")
	assert.Equal(t, defaultMaxBatch, b.MaxBatch())
	require.NoError(t, b.Close())
	b, err = New(Config{Brokers: ok.Brokers, Topic: topic, MaxBatch: 50})
	require.NoError(t, err)
	assert.Equal(t, 50, b.MaxBatch())
	require.NoError(t, b.Close())
}
