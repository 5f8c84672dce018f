package litewaveexporter

import (
	"crypto/tls"

	"github.com/aiorch/litewavemetric"
)

// options maps the YAML onto the library's options: the one place that
// knows both. The environment is ignored: a Collector is configured by
// its file. An unset key keeps the library's default.
func options(c *Config) []litewavemetric.Option {
	opts := []litewavemetric.Option{litewavemetric.WithoutEnvironment()}
	add := func(set bool, o litewavemetric.Option) {
		if set {
			opts = append(opts, o)
		}
	}
	add(c.Backend != "", litewavemetric.WithBackend(c.Backend))
	add(c.Endpoint != "", litewavemetric.WithEndpoint(c.Endpoint))
	add(c.APIKey != "", litewavemetric.WithAPIKey(string(c.APIKey)))
	add(c.PortalURL != "", litewavemetric.WithPortalURL(c.PortalURL))
	k := c.Kafka
	kc := litewavemetric.KafkaConfig{
		Topic:          k.Topic,
		RESTProxyURL:   c.KafkaREST.URL,
		RESTMaxRecords: c.KafkaREST.MaxRecords,
		RESTMaxBytes:   c.KafkaREST.MaxBytes,
		Brokers:        k.Brokers,
		SASLMechanism:  k.SASL.Mechanism,
		SASLUsername:   string(k.SASL.Username),
		SASLPassword:   string(k.SASL.Password),
	}
	if k.TLS {
		kc.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, litewavemetric.WithKafka(kc))
	add(k.Transactions != nil || k.CheckpointTopic != "" || k.TransactionTimeout != 0,
		litewavemetric.WithKafkaTransactions(litewavemetric.KafkaTransactions{
			Off:             k.Transactions != nil && !*k.Transactions,
			CheckpointTopic: k.CheckpointTopic,
			Timeout:         k.TransactionTimeout,
		}))
	add(c.SpoolDir != "", litewavemetric.WithSpoolDir(c.SpoolDir))
	add(c.MaxSpool != 0, litewavemetric.WithMaxSpoolBytes(c.MaxSpool))
	add(c.Instance != "", litewavemetric.WithInstanceID(c.Instance))
	add(c.Timeout != 0, litewavemetric.WithTimeout(c.Timeout))
	add(c.Requests != 0, litewavemetric.WithConcurrency(c.Requests))
	add(c.Retry != (RetryConfig{}), litewavemetric.WithRetry(litewavemetric.RetryConfig{
		InitialInterval: c.Retry.InitialInterval, MaxInterval: c.Retry.MaxInterval, MaxRetryAfter: c.Retry.MaxRetryAfter}))
	add(c.CustomerCache != (CustomerCacheConfig{}), litewavemetric.WithCustomerCache(c.CustomerCache.Hit, c.CustomerCache.Miss))
	add(c.Tenant != "" || c.Device != "", litewavemetric.WithAttributeKeys(c.Tenant, c.Device))
	for inst, meter := range c.MeterIDs {
		opts = append(opts, litewavemetric.WithMeterID(inst, meter))
	}
	add(len(c.Bill) > 0, litewavemetric.WithInstruments(c.Bill...))
	add(c.MaxSeries != 0, litewavemetric.WithMaxSeries(c.MaxSeries))
	add(c.Staleness != 0, litewavemetric.WithStaleness(c.Staleness))
	return opts
}
