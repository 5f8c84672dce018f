package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// deliveryTimeout bounds how long franz-go keeps a record it cannot
// deliver. franz-go's default is forever, which would hide an outage from
// the exporter; past this the record fails with kgo.ErrRecordTimeout, and
// only where failing it is safe for the idempotent sequence.
const deliveryTimeout = 30 * time.Second

// clientOpts maps cfg to franz-go options. Acks=all and idempotent writes
// are franz-go's defaults and stay so; batching and linger are left to it.
func clientOpts(cfg *Config, auth *authWatch) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("litewavemetric"), // names the exporter in broker logs and quotas
		kgo.RecordDeliveryTimeout(deliveryTimeout),
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	m, err := cfg.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m), kgo.WithHooks(auth))
	}
	return append(opts, cfg.Extra...), nil
}
