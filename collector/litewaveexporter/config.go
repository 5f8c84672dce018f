package litewaveexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/aiorch/litewavemetric/internal/config"
)

// Config is the exporter's YAML. Each key mirrors a library setting, and
// an empty or zero value keeps the library's default. There is no
// sending_queue nor retry_on_failure: the spool and the library's retries
// keep what is owed, under their own keys.
type Config struct {
	// Backend is events (the default), kafka-rest or kafka.
	Backend string `mapstructure:"backend"`
	// Endpoint is the events API's base URL.
	Endpoint string `mapstructure:"endpoint"`
	// APIKey is sent as x-api-key; never printed.
	APIKey configopaque.String `mapstructure:"api_key"`
	// PortalURL sends customer lookups to the portal.
	PortalURL string          `mapstructure:"portal_url"`
	Kafka     KafkaConfig     `mapstructure:"kafka"`
	KafkaREST KafkaRESTConfig `mapstructure:"kafka_rest"`
	SpoolDir  string          `mapstructure:"spool_dir"`
	MaxSpool  int64           `mapstructure:"max_spool_bytes"`
	Instance  string          `mapstructure:"instance_id"`
	Timeout   time.Duration   `mapstructure:"timeout"`
	Requests  int             `mapstructure:"concurrency"`
	Retry     RetryConfig     `mapstructure:"retry"`
	// CustomerCache is how long a customer id (hit) and "no such account"
	// (miss) are cached; set both or neither.
	CustomerCache CustomerCacheConfig `mapstructure:"customer_cache"`
	Tenant        string              `mapstructure:"tenant_attribute"`
	Device        string              `mapstructure:"device_attribute"`
	MeterIDs      map[string]string   `mapstructure:"meter_ids"`
	Bill          []string            `mapstructure:"instruments"`
	MaxSeries     int                 `mapstructure:"max_series"`
	Staleness     time.Duration       `mapstructure:"staleness"`
	// ShutdownTimeout bounds delivery at shutdown when the Collector gives
	// no deadline; what is left is reported, and kept in the spool.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// KafkaConfig holds the settings of both Kafka backends; the topic is
// theirs, the rest is backend kafka's.
type KafkaConfig struct {
	Topic              string        `mapstructure:"topic"`
	Brokers            []string      `mapstructure:"brokers"`
	TLS                bool          `mapstructure:"tls"`
	SASL               SASLConfig    `mapstructure:"sasl"`
	Transactions       *bool         `mapstructure:"transactions"`
	CheckpointTopic    string        `mapstructure:"checkpoint_topic"`
	TransactionTimeout time.Duration `mapstructure:"transaction_timeout"`
	_                  struct{}
}

// SASLConfig authenticates backend kafka: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
type SASLConfig struct {
	Mechanism string              `mapstructure:"mechanism"`
	Username  configopaque.String `mapstructure:"username"`
	Password  configopaque.String `mapstructure:"password"`
	_         struct{}
}

// KafkaRESTConfig is backend kafka-rest's proxy and its request bounds.
type KafkaRESTConfig struct {
	URL        string `mapstructure:"url"`
	MaxRecords int    `mapstructure:"max_records"`
	MaxBytes   int    `mapstructure:"max_bytes"`
	_          struct{}
}

// RetryConfig spaces the attempts; delivery is never given up for time.
type RetryConfig struct {
	InitialInterval time.Duration `mapstructure:"initial_interval"`
	MaxInterval     time.Duration `mapstructure:"max_interval"`
	MaxRetryAfter   time.Duration `mapstructure:"max_retry_after"`
	_               struct{}
}

// CustomerCacheConfig holds the customer cache's lifetimes.
type CustomerCacheConfig struct {
	Hit  time.Duration `mapstructure:"hit"`
	Miss time.Duration `mapstructure:"miss"`
	_    struct{}
}

// Validate checks the file with the library's own rules, each setting
// named by its YAML key, so that the Collector refuses a bad file at start
// with the line to fix. What only the file's shape decides is checked here.
func (c *Config) Validate() error {
	var errs []error
	if c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("shutdown_timeout: must not be negative"))
	}
	// The library keeps its default for a zero or negative retry interval.
	for key, d := range map[string]time.Duration{"retry::initial_interval": c.Retry.InitialInterval,
		"retry::max_interval": c.Retry.MaxInterval, "retry::max_retry_after": c.Retry.MaxRetryAfter} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", key))
		}
	}
	all := []config.Option{config.ByYAMLKey}
	for _, o := range options(c) {
		settings, ok := o.(interface{ ConfigOptions() []config.Option })
		if !ok {
			return fmt.Errorf("litewave: the library's option %T cannot be checked; upgrade the exporter with the library", o)
		}
		all = append(all, settings.ConfigOptions()...)
	}
	if _, err := config.Load(all); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
