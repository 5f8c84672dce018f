package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/internal/redact"
)

// The parsers of the variables, each into the field it sets.

func text(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func secret(field func(*Config) *redact.Secret) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = redact.New(v); return nil }
}

func integer(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an integer")
		}
		*field(c) = n
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*field(c) = on
		return nil
	}
}

func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
}

// parseDuration reads milliseconds (the OTEL_*_TIMEOUT convention) or a Go
// duration.
func parseDuration(v string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("want milliseconds or a duration such as 10s")
	}
	return d, nil
}

// list splits a comma-separated value, dropping empty items.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseBrokers(c *Config, v string) error {
	c.KafkaBrokers = list(v)
	return nil
}

func parseKafkaTLS(c *Config, v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	c.KafkaTLS = nil
	if on {
		c.KafkaTLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return nil
}

func parseSpoolBytes(c *Config, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return errors.New("not an integer")
	}
	c.MaxSpoolBytes = n
	return nil
}

func parseMeterIDs(c *Config, v string) error {
	c.MeterIDs = map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		inst, meter, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || inst == "" {
			return fmt.Errorf("%q is not instrument=meter", pair)
		}
		c.MeterIDs[inst] = meter
	}
	return nil
}

func parseInstruments(c *Config, v string) error {
	c.Instruments = map[string]bool{}
	for _, n := range list(v) {
		c.Instruments[n] = true
	}
	return nil
}

func parseLogLevel(c *Config, v string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

func parseObservability(c *Config, v string) error {
	c.Observability = strings.EqualFold(v, "true")
	return nil
}
