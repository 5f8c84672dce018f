package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// UnreachableError says that franz-go could not connect to a broker.
type UnreachableError struct {
	Broker string // host:port, as the seeds or the cluster's metadata name it
	Err    error
}

func (e *UnreachableError) Error() string {
	return "kafka broker " + e.Broker + " cannot be reached: " + e.Err.Error() +
		" (check LITEWAVE_KAFKA_BROKERS, the brokers' advertised listeners, and that they are up)"
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// connWatch is franz-go's hook on connections. It tells at once that a
// broker cannot be reached, when franz-go gives up a dial, rather than
// when the records it holds time out, and it cuts short a metadata check
// that the brokers answer by refusing the SASL credentials, which franz-go
// would retry until the check's deadline.
type connWatch struct {
	auth *authWatch // nil without SASL

	mu      sync.Mutex
	report  func(error)      // told when a broker becomes unreachable
	down    map[string]error // brokers whose last connection failed, by address
	latest  error            // the latest of those failures
	refusal error            // the latest SASL refusal, until a connection succeeds
	abort   func()           // cancels the metadata check under way
	stopped bool             // the backend is closing: its failures are its own doing
}

// OnBrokerConnect is franz-go's kgo.HookBrokerConnect.
func (w *connWatch) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	w.mu.Lock()
	if w.stopped || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		w.mu.Unlock()
		return
	}
	if err == nil {
		delete(w.down, addr)
		w.refusal = nil
		w.mu.Unlock()
		return
	}
	if w.auth != nil && !isDial(err) && (isSASL(err) || w.auth.closed.Load()) {
		// Reached, and refused: the credentials are wrong, not the address.
		w.refusal = err
		abort := w.abort
		w.mu.Unlock()
		if abort != nil {
			abort()
		}
		return
	}
	if w.down == nil {
		w.down = map[string]error{}
	}
	_, already := w.down[addr]
	w.down[addr] = err
	uerr := &UnreachableError{Broker: addr, Err: err}
	w.latest = uerr
	report := w.report
	w.mu.Unlock()
	if !already && report != nil {
		report(uerr)
	}
}

// setReport sets who is told of unreachable brokers, and tells it at once
// of those already known.
func (w *connWatch) setReport(report func(error)) {
	w.mu.Lock()
	w.report = report
	known := make([]error, 0, len(w.down))
	for addr, err := range w.down {
		known = append(known, &UnreachableError{Broker: addr, Err: err})
	}
	w.mu.Unlock()
	for _, err := range known {
		report(err)
	}
}

// unreachable is the latest failure to connect while a broker is failing.
func (w *connWatch) unreachable() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.down) == 0 {
		return nil
	}
	return w.latest
}

// refused is the latest SASL refusal, as an error classify calls SASL.
func (w *connWatch) refused() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.refusal == nil:
		return nil
	case isSASL(w.refusal):
		return w.refusal
	}
	return &saslError{fmt.Errorf("the broker closed the connection when sent the credentials: %w", w.refusal)}
}

// onRefusal sets the cancel function of the metadata check under way (nil
// when it ends).
func (w *connWatch) onRefusal(abort func()) {
	w.mu.Lock()
	w.abort = abort
	w.mu.Unlock()
}

// stop silences the watch: closing the client fails its dials.
func (w *connWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// isDial reports whether err is a failed dial: no broker took the
// connection, so no credentials were sent.
func isDial(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns)
}
