package litewavemetric_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// Brokers behind TLS and SASL are reached with KafkaConfig's TLS and SASL
// fields: the usage lands on the topic, which only a client with the same
// credentials can read.
func TestKafkaTLSAndSASLDeliver(t *testing.T) {
	// httptest's certificate names 127.0.0.1, where kfake listens.
	certs := httptest.NewUnstartedServer(nil)
	certs.StartTLS()
	serverTLS := &tls.Config{Certificates: certs.TLS.Certificates}
	roots := x509.NewCertPool()
	roots.AddCert(certs.Certificate())
	certs.Close()
	clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	cluster := newKafka(t, kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "billing", "s3cret"))
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
	p := newPipeline(t, srv, litewavemetric.WithBackend(litewavemetric.BackendKafka),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Brokers: cluster.ListenAddrs(), TLS: clientTLS,
			SASLMechanism: "SCRAM-SHA-256", SASLUsername: "billing", SASLPassword: "s3cret"}))
	p.counter("pages").Add(context.Background(), 5, at("acme", "scanner-1"))
	require.NoError(t, p.flush())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reader, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DialTLSConfig(clientTLS),
		kgo.SASL(scram.Auth{User: "billing", Pass: "s3cret"}.AsSha256Mechanism()),
		kgo.ConsumeTopics(usageTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer reader.Close()
	var records []*kgo.Record
	for len(records) == 0 {
		fs := reader.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "no record on the topic")
		records = append(records, fs.Records()...)
	}
	require.Len(t, records, 1)
	assert.Contains(t, string(records[0].Value), `"total_usage":5`)
}
