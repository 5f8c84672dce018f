package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL names the mechanism and credentials to authenticate with. The zero
// value authenticates nothing. Its formatting never shows the password.
type SASL struct {
	Mechanism string // "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512"
	User      string
	Password  string
}

const redacted = "[redacted]"

func (s SASL) password() string {
	if s.Password == "" {
		return ""
	}
	return redacted
}

// String formats s as %v would, with the password redacted.
func (s SASL) String() string {
	return "{" + s.Mechanism + " " + s.User + " " + s.password() + "}"
}

// GoString formats s as %#v would, with the password redacted.
func (s SASL) GoString() string {
	return fmt.Sprintf("kafka.SASL{Mechanism:%q, User:%q, Password:%q}", s.Mechanism, s.User, s.password())
}

// Format serves every verb, so that no verb reaches the password through
// fmt's reflection.
func (s SASL) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, s.GoString())
	case verb == 'v' && f.Flag('+'):
		fmt.Fprintf(f, "{Mechanism:%s User:%s Password:%s}", s.Mechanism, s.User, s.password())
	default:
		io.WriteString(f, s.String())
	}
}

// mechanism returns the franz-go mechanism for s, nil for the zero SASL.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	if s == (SASL{}) {
		return nil, nil
	}
	if s.User == "" || s.Password == "" {
		return nil, fmt.Errorf("kafka: SASL %s needs a user and a password", s.Mechanism)
	}
	var m sasl.Mechanism
	switch strings.ToUpper(s.Mechanism) {
	case "PLAIN":
		m = plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
	case "":
		return nil, fmt.Errorf("kafka: SASL user %q given without a mechanism", s.User)
	default:
		return nil, fmt.Errorf("kafka: unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.Mechanism)
	}
	return handshake{m}, nil
}

// saslError marks an error raised by the SASL exchange itself, so that
// classify can tell it from an outage wherever franz-go passes it on.
type saslError struct{ err error }

func (e *saslError) Error() string { return "sasl: " + e.err.Error() }
func (e *saslError) Unwrap() error { return e.err }

// handshake wraps a mechanism to mark its errors.
type handshake struct{ sasl.Mechanism }

func (h handshake) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	s, msg, err := h.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, &saslError{err}
	}
	return session{s}, msg, nil
}

type session struct{ sasl.Session }

func (s session) Challenge(resp []byte) (bool, []byte, error) {
	done, msg, err := s.Session.Challenge(resp)
	if err != nil {
		return false, nil, &saslError{err}
	}
	return done, msg, nil
}

// authWatch notes whether a broker met our SASL credentials by closing the
// connection, as some brokers (and kfake) do where Kafka answers
// SASL_AUTHENTICATION_FAILED. franz-go retries that like an outage and the
// records end in kgo.ErrRecordTimeout with "last err: EOF" or none; this
// lets classify name the credentials instead. It holds until a request
// after authentication succeeds, since SCRAM's first round trip succeeds
// even with a wrong password.
type authWatch struct{ closed atomic.Bool }

// OnBrokerRead is franz-go's kgo.HookBrokerRead.
func (w *authWatch) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	switch key {
	case kmsg.SASLAuthenticate.Int16():
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			w.closed.Store(true)
		}
	case kmsg.SASLHandshake.Int16(), kmsg.ApiVersions.Int16():
	default:
		if err == nil && w.closed.Load() {
			w.closed.Store(false)
		}
	}
}
