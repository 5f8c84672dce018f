package litewavemetric_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
)

const leaked = "tok_live_4f9a"

// URL values holding credentials, or that do not parse, are refused by
// New, naming the variable or option, and never shown: neither a password
// nor a token used as a user name.
func TestCredentialsInURLsAreRefusedUnseen(t *testing.T) {
	values := map[string]string{
		"password":          "http://billing:" + leaked + "@billing.example.com",
		"token as the user": "https://" + leaked + "@billing.example.com/api",
		"no scheme":         leaked + "@billing.example.com:8080",
		"unparsable":        "http://billing:" + leaked + "@[::1%zz]/",
		"not a URL at all":  "%zz" + leaked,
	}
	settings := []struct {
		env    string
		option func(string) litewavemetric.ClientOption
		name   string
		extra  []litewavemetric.Option
	}{
		{"LITEWAVE_ENDPOINT", litewavemetric.WithEndpoint, "WithEndpoint", nil},
		{"LITEWAVE_PORTAL_URL", litewavemetric.WithPortalURL, "WithPortalURL", nil},
		{"LITEWAVE_KAFKA_REST_URL", func(u string) litewavemetric.ClientOption {
			return litewavemetric.WithKafka(litewavemetric.KafkaConfig{RESTProxyURL: u})
		}, "WithKafka(RESTProxyURL",
			[]litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafkaREST)}},
	}
	for _, s := range settings {
		for form, v := range values {
			t.Run(s.env+"/"+form, func(t *testing.T) {
				t.Setenv(s.env, v)
				if s.env != "LITEWAVE_ENDPOINT" {
					t.Setenv("LITEWAVE_ENDPOINT", "http://127.0.0.1:1")
				}
				_, err := litewavemetric.New(context.Background(), s.extra...)
				require.Error(t, err)
				assert.Contains(t, err.Error(), s.env)
				assert.NotContains(t, err.Error(), leaked)
				t.Logf("%s: %v", form, err)
			})
			t.Run(s.name+"/"+form, func(t *testing.T) {
				_, err := litewavemetric.New(context.Background(), append(s.extra, litewavemetric.WithEndpoint("http://127.0.0.1:1"), s.option(v))...)
				require.Error(t, err)
				assert.Contains(t, err.Error(), s.name)
				assert.NotContains(t, err.Error(), leaked)
			})
		}
	}
}

// A host:port without a scheme is shown, with what to add.
func TestURLWithoutSchemeIsShownWithTheFix(t *testing.T) {
	t.Parallel()
	_, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint("127.0.0.1:8080"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `WithEndpoint("127.0.0.1:8080"): no scheme: add http:// or https:// (http://127.0.0.1:8080)`)
}

// A secret with a control character cannot be sent: it is refused where it
// enters, naming the option or variable, never the value.
func TestSecretsWithControlCharactersAreRefused(t *testing.T) {
	cases := map[string]struct {
		opts []litewavemetric.Option
		env  map[string]string
		want string
	}{
		"WithAPIKey": {opts: []litewavemetric.Option{litewavemetric.WithAPIKey(leaked + "\n")}, want: "WithAPIKey"},
		"KafkaConfig.SASLPassword": {opts: []litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafka),
			litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: []string{"127.0.0.1:1"}, SASLMechanism: "PLAIN", SASLUsername: "billing", SASLPassword: leaked + "\r\nx"})}, want: "WithKafka(SASL"},
		"KafkaConfig.SASLUsername": {opts: []litewavemetric.Option{litewavemetric.WithBackend(litewavemetric.BackendKafka),
			litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: []string{"127.0.0.1:1"}, SASLMechanism: "PLAIN", SASLUsername: leaked + "\tx", SASLPassword: "p"})}, want: "WithKafka(SASL"},
		"LITEWAVE_API_KEY": {env: map[string]string{"LITEWAVE_API_KEY": leaked + "\nsecond-line"}, want: "LITEWAVE_API_KEY"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := litewavemetric.New(context.Background(), append([]litewavemetric.Option{litewavemetric.WithEndpoint("http://127.0.0.1:1")}, tc.opts...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "control character")
			assert.NotContains(t, err.Error(), leaked)
		})
	}
	t.Run("a variable's surrounding space is trimmed, as always", func(t *testing.T) {
		t.Setenv("LITEWAVE_API_KEY", " key\n")
		exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint("http://127.0.0.1:1"))
		require.NoError(t, err)
		require.NoError(t, exp.Shutdown(context.Background()))
	})
}
