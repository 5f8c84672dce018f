package litewaveexporter

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
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

var (
	backends       = []string{"events", "kafka-rest", "kafka"}
	saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
)

// Validate applies the rules litewavemetric.New applies, naming the YAML
// key instead of the option, so that the Collector refuses a bad file at
// start with the line to fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Backend != "" && !slices.Contains(backends, c.Backend) {
		bad("backend", "unknown backend %q; valid: %s", c.Backend, strings.Join(backends, ", "))
	}
	checkURL := func(key, raw string) {
		if raw == "" {
			return
		}
		if err := validURL(raw); err != nil {
			bad(key, "%v", err)
		}
	}
	checkURL("endpoint", c.Endpoint)
	checkURL("portal_url", c.PortalURL)
	checkURL("kafka_rest::url", c.KafkaREST.URL)
	if c.Backend == "kafka-rest" && c.KafkaREST.URL == "" {
		bad("kafka_rest::url", "backend kafka-rest needs the REST Proxy's URL")
	}
	if c.Backend == "kafka" && len(c.Kafka.Brokers) == 0 {
		bad("kafka::brokers", "backend kafka needs the seed brokers")
	}
	if m := c.Kafka.SASL.Mechanism; m != "" {
		if !slices.Contains(saslMechanisms, strings.ToUpper(m)) {
			bad("kafka::sasl::mechanism", "unknown mechanism %q; valid: %s", m, strings.Join(saslMechanisms, ", "))
		}
		if c.Kafka.SASL.Username == "" || c.Kafka.SASL.Password == "" {
			bad("kafka::sasl::mechanism", "needs a username and a password (kafka::sasl::username, kafka::sasl::password)")
		}
	}
	if strings.ContainsAny(c.Kafka.Topic, "/?# ") {
		bad("kafka::topic", "topic %q is not a valid topic name", c.Kafka.Topic)
	}
	if t := c.Kafka.CheckpointTopic; t != "" && (strings.ContainsAny(t, "/?# ") || t == c.Kafka.Topic) {
		bad("kafka::checkpoint_topic", "topic %q is not a valid checkpoint topic: a topic of its own", t)
	}
	if d := c.Kafka.TransactionTimeout; d != 0 && (d < time.Second || d > 15*time.Minute) {
		bad("kafka::transaction_timeout", "want 1s to 15m (the brokers' transaction.max.timeout.ms), got %v", d)
	}
	if n := c.KafkaREST.MaxRecords; n < 0 || n > 5000 {
		bad("kafka_rest::max_records", "want 1 to 5000 records per request (the proxy's answer holds an entry per record)")
	}
	if n := c.KafkaREST.MaxBytes; n != 0 && n < 1024 {
		bad("kafka_rest::max_bytes", "want at least 1024 bytes per request")
	}
	for key, d := range map[string]time.Duration{"timeout": c.Timeout, "shutdown_timeout": c.ShutdownTimeout} {
		if d < 0 {
			bad(key, "must be positive")
		}
	}
	if c.Requests < 0 {
		bad("concurrency", "must be at least 1")
	}
	if c.MaxSeries < 0 {
		bad("max_series", "must be at least 1")
	}
	if c.MaxSpool < 0 {
		bad("max_spool_bytes", "must be positive")
	}
	if c.Staleness < 0 {
		bad("staleness", "must not be negative")
	}
	r := c.Retry
	if r.InitialInterval < 0 || r.MaxInterval < 0 || r.MaxRetryAfter < 0 {
		bad("retry", "intervals must not be negative")
	}
	if r.InitialInterval > 0 && r.MaxInterval > 0 && r.InitialInterval > r.MaxInterval {
		bad("retry::initial_interval", "initial interval %v exceeds the max interval %v", r.InitialInterval, r.MaxInterval)
	}
	if cc := c.CustomerCache; cc.Hit < 0 || cc.Miss < 0 || (cc.Hit == 0) != (cc.Miss == 0) {
		bad("customer_cache", "lifetimes must be positive, hit and miss both set or neither")
	}
	for inst, id := range c.MeterIDs {
		if id == "" || len(id) > 255 {
			bad("meter_ids", "instrument %q: a meter id has 1 to 255 bytes", inst)
		}
	}
	return errors.Join(errs...)
}

// validURL wants what the library wants of a base URL, in its words.
func validURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case strings.Contains(raw, "@"):
		return errors.New("credentials in URLs are refused, as they would be printed and sent to whoever the URL names: give http(s)://host[:port][/path], and the key with api_key")
	case !strings.Contains(raw, "://") && isHostPort(raw):
		return fmt.Errorf("no scheme: add http:// or https:// (http://%s)", raw)
	case err != nil:
		return errors.New("not a URL: give http(s)://host[:port][/path]")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the scheme must be http or https: give http(s)://host[:port][/path]")
	case u.Host == "":
		return errors.New("no host: give http(s)://host[:port][/path]")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	return nil
}

func isHostPort(raw string) bool {
	_, port, err := net.SplitHostPort(raw)
	return err == nil && port != ""
}
