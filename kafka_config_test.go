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
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// Brokers behind TLS and SASL are reached with KafkaConfig's TLS and SASL
// fields: the usage lands on the topic, which only a client with the same
// credentials can read.
func TestKafkaTLSAndSASLDeliver(t *testing.T) {
	t.Parallel()
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

// KafkaTransactions' CheckpointTopic and Timeout reach the brokers: the
// checkpoints go to the topic named, the only one the cluster has, and
// the producer asks for the timeout given.
func TestKafkaTransactionsCheckpointTopicAndTimeout(t *testing.T) {
	t.Parallel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, usageTopic), kfake.SeedTopics(1, "billing.marks"))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	asked := make(chan int32, 1)
	cluster.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.DropControl()
		if r := req.(*kmsg.InitProducerIDRequest); r.TransactionalID != nil {
			asked <- r.TransactionTimeoutMillis
		}
		return nil, nil, false
	})
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
	p := kafkaPipeline(t, srv, cluster.ListenAddrs(), litewavemetric.WithSpoolDir(t.TempDir()),
		litewavemetric.WithKafkaTransactions(litewavemetric.KafkaTransactions{CheckpointTopic: "billing.marks", Timeout: 7 * time.Second}),
		litewavemetric.WithKafka(litewavemetric.KafkaConfig{Options: []kgo.Opt{kgo.UnknownTopicRetries(1)}}))
	p.counter("pages").Add(context.Background(), 4, at("acme", "d"))
	require.NoError(t, p.flush(), "delivered in a transaction that checkpoints to billing.marks")
	assert.Equal(t, int32(7000), within(t, asked, "the transactional producer's InitProducerID"))
	assert.Equal(t, map[string]int64{crashKey("acme", "d", "pages"): 4}, readTopic(t, cluster.ListenAddrs()).totals)
}
