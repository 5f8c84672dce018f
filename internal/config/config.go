// Package config holds the exporter's settings: one table (table.go) gives
// each setting's variable, option, default, parser, check and description,
// and Load builds a Config from the defaults, the environment and the
// options, in that order, as otlpmetrichttp's internal/oconf does.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"

	"github.com/aiorch/litewavemetric/internal/redact"
	"github.com/aiorch/litewavemetric/internal/retry"
)

// Backends, the values of LITEWAVE_BACKEND.
const (
	BackendEvents    = "events"
	BackendKafkaREST = "kafka-rest"
	BackendKafka     = "kafka"
)

// Config is every setting, resolved.
type Config struct {
	Backend            string
	Endpoint           string
	PortalURL          string
	KafkaRESTURL       string
	KafkaTopic         string
	RESTMaxRecords     int
	RESTMaxBytes       int
	KafkaBrokers       []string
	KafkaTLS           *tls.Config
	SASLMechanism      string
	SASLUsername       string
	SASLPassword       redact.Secret
	KafkaOptions       []kgo.Opt
	KafkaTransactions  bool // with a spool
	CheckpointTopic    string
	TransactionTimeout time.Duration
	APIKey             redact.Secret
	Timeout            time.Duration
	HTTPClient         *http.Client
	TLSConfig          *tls.Config
	TenantAttribute    string
	DeviceAttribute    string
	MeterIDs           map[string]string
	Instruments        map[string]bool // nil: every instrument is billed
	Concurrency        int
	Retry              retry.Policy
	CustomerCacheHit   time.Duration
	CustomerCacheMiss  time.Duration
	SpoolDir           string
	MaxSeries          int
	MaxSpoolBytes      int64
	InstanceID         string
	Logger             *slog.Logger
	LoggerGiven        bool // WithLogger or LITEWAVE_LOG_LEVEL set one
	CardinalityLimit   int
	Staleness          time.Duration
	MeterProvider      metric.MeterProvider
	Observability      bool // OTEL_GO_X_OBSERVABILITY=true

	// source says where each setting came from, for errors:
	// `LITEWAVE_TIMEOUT="0"` or "WithTimeout(0s)".
	source map[*Setting]string
	// envErrs are variables that did not parse; an option of the same
	// setting clears its error.
	envErrs map[*Setting]error
	// byYAML names settings by their Collector key in errors.
	byYAML bool
}

// Option sets one setting, as an option of the public API does.
type Option struct {
	setting   *Setting
	shown     string // the argument as errors show it
	set       func(*Config)
	ignoreEnv bool
	byYAML    bool
}

// WithoutEnvironment makes Load ignore the variables, wherever it stands
// among the options.
var WithoutEnvironment = Option{ignoreEnv: true}

// ByYAMLKey makes Load name each setting by its key in the Collector
// component's configuration, so that the component checks its file with
// the library's rules and says which line to fix.
var ByYAMLKey = Option{byYAML: true}

func (o Option) apply(c *Config) {
	if o.set == nil {
		return
	}
	delete(c.envErrs, o.setting)
	shown := o.shown
	if o.setting.Show == Secret {
		shown = "[REDACTED]"
		if o.setting.Field != "" {
			shown = o.setting.Field + ": " + shown
		}
	}
	c.source[o.setting] = o.setting.Option
	if shown != "" {
		c.source[o.setting] += "(" + shown + ")"
	}
	o.set(c)
}

// Load resolves the configuration: defaults, then the environment, then
// opts.
func Load(opts []Option) (Config, error) {
	c := Config{source: map[*Setting]string{}, envErrs: map[*Setting]error{},
		byYAML: slices.ContainsFunc(opts, func(o Option) bool { return o.byYAML })}
	for _, s := range Table {
		if s.Default != "" {
			if err := s.parse(&c, s.Default); err != nil {
				panic(fmt.Sprintf("config: the default of %s: %v", s.Env, err))
			}
		}
	}
	ignoreEnv := slices.ContainsFunc(opts, func(o Option) bool { return o.ignoreEnv })
	for _, s := range Table {
		if s.Env != "" && (!ignoreEnv || s.ReadAlways) {
			c.fromEnv(s)
		}
	}
	for _, o := range opts {
		o.apply(&c)
	}
	c.LoggerGiven = c.Logger != nil
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	err := c.validate()
	if c.CheckpointTopic == "" {
		// Derived after the checks: it is valid whenever the topic is.
		c.CheckpointTopic = c.KafkaTopic + ".checkpoints"
	}
	return c, err
}

// fromEnv applies s's variable; a value that does not parse is kept in
// envErrs, to fail validation unless an option overrides it.
func (c *Config) fromEnv(s *Setting) {
	v := strings.TrimSpace(os.Getenv(s.Env))
	if v == "" || s.parse == nil {
		return
	}
	shown := strconv.Quote(v)
	switch s.Show {
	case Secret:
		shown = "[REDACTED]"
	case URL:
		shown = ShownURL(v)
	}
	c.source[s] = s.Env + "=" + shown
	if err := s.parse(c, v); err != nil {
		c.envErrs[s] = fmt.Errorf("%s=%s: %w", s.Env, shown, err)
	}
}

// From names where s was set, for an error: its variable and value, its
// option, or, when neither set it, what; under ByYAMLKey, its key.
func (c *Config) From(s *Setting, what string) string {
	if c.byYAML && s.YAML != "" {
		return s.yamlKey()
	}
	if src, ok := c.source[s]; ok {
		return src
	}
	return what
}

// named names s in a hint: its variable, or its key under ByYAMLKey.
func (c *Config) named(s *Setting) string {
	if c.byYAML {
		return s.yamlKey()
	}
	return s.Env
}

// howToSet says where s is set: "LITEWAVE_X or WithX", or its key under
// ByYAMLKey.
func (c *Config) howToSet(s *Setting) string {
	if c.byYAML {
		return s.yamlKey()
	}
	return s.Env + " or " + s.Source()
}

func (c *Config) validate() error {
	var errs []error
	for _, s := range Table {
		if err := c.envErrs[s]; err != nil {
			errs = append(errs, err)
			continue
		}
		if s.check == nil {
			continue
		}
		if err := s.check(c, s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.From(s, s.what()), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("litewavemetric: invalid configuration: %w", err)
	}
	return nil
}

// Defaults is the configuration that no variable and no option changed.
func Defaults() Config {
	c, err := Load([]Option{WithoutEnvironment})
	if err != nil {
		panic(fmt.Sprintf("config: the defaults are invalid: %v", err))
	}
	return c
}
