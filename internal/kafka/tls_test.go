package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// Config.TLS reaches the dialer: a broker that only speaks TLS, with a
// certificate the config trusts, takes the usage.
func TestTLSDeliversToATLSBroker(t *testing.T) {
	cert, pool := selfSigned(t)
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(3, topic), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	client := &tls.Config{RootCAs: pool}
	b := newBackend(t, Config{Brokers: c.ListenAddrs(), TLS: client})
	evs := events(20, 2)
	requireDelivered(t, send(t, b, evs))
	assert.Len(t, byKey(t, consume(t, c.ListenAddrs(), kgo.DialTLSConfig(client))), len(evs))
}
