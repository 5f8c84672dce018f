package litewaveexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// A bad file is refused at start with the key to fix, in the library's
// words; the defaults are valid.
func TestConfigErrorsNameTheYAMLKey(t *testing.T) {
	require.NoError(t, confmap.Validate(NewFactory().CreateDefaultConfig()))
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for name, want := range map[string]string{
		"scheme_less":  "endpoint: no scheme: add http:// or https:// (http://127.0.0.1:8080)",
		"kafka_rest":   "kafka_rest::url: backend kafka-rest needs the REST Proxy's URL",
		"no_brokers":   "kafka::brokers: backend kafka needs the seed brokers",
		"bad_backend":  `backend: unknown backend "stripe"; valid: events, kafka-rest, kafka`,
		"retry_order":  "retry::initial_interval: initial interval 1m0s exceeds the max interval 1s",
		"sasl_no_pass": "kafka::sasl::mechanism: needs a username and a password",
		"cache_half":   "customer_cache::miss: lifetimes must be positive",
		"credentials":  "kafka_rest::url: credentials in URLs are refused, as they would be printed and sent to whoever the URL names: give http(s)://host[:port][/path], and the key with api_key",
		"bad_meter":    `meter_ids: instrument "pages": invalid id: empty meter id`,
	} {
		t.Run(name, func(t *testing.T) {
			sub, err := cm.Sub(name)
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))
			require.ErrorContains(t, confmap.Validate(cfg), want)
		})
	}
	sub, err := cm.Sub("full")
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	require.Equal(t, "s3cret", string(cfg.APIKey))
	require.Equal(t, 3*time.Second, cfg.Timeout)
	require.Equal(t, []string{"b1:9092", "b2:9092"}, cfg.Kafka.Brokers)
	require.False(t, *cfg.Kafka.Transactions)
	require.Equal(t, CustomerCacheConfig{Hit: 5 * time.Minute, Miss: 30 * time.Second}, cfg.CustomerCache)
}
