package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkTimeout bounds one metadata check. A check that runs out says
// nothing: Sends then produce, and an outage shows as one.
const checkTimeout = 10 * time.Second

// gate holds Sends back while the brokers say the topic does not exist or
// refuse the credentials, failing them at once as configuration problems.
// Producing would only buffer records that franz-go keeps for its
// unknown-topic retries or its record timeout, tens of seconds, before
// saying what the metadata says at once. A check of the topic's metadata
// starts with the backend, in the background; a Send waits for it, and
// while it found a problem, each Send checks again (one check at a time),
// so that the topic created or the credentials fixed are seen at once.
type gate struct {
	check  func(context.Context) error // one check: nil, or what holds Sends back
	ctx    context.Context             // ended by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	done   chan struct{} // closed when the check under way ends; nil: none runs
	err    error         // what the last check found
	closed bool
}

func (g *gate) start(check func(context.Context) error) {
	g.check = check
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.mu.Lock()
	g.run()
	g.mu.Unlock()
}

// run starts a check unless one runs or the gate is closed. mu must be
// held.
func (g *gate) run() {
	if g.done != nil || g.closed {
		return
	}
	done := make(chan struct{})
	g.done = done
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := g.check(g.ctx)
		g.mu.Lock()
		g.err, g.done = err, nil
		g.mu.Unlock()
		close(done)
	}()
}

// pass returns what holds a Send back, or nil: it waits for the check
// under way, and checks again if the last check found a problem. If ctx
// ends first, it returns nil: the Send then makes every event Retry.
func (g *gate) pass(ctx context.Context) error {
	g.mu.Lock()
	if g.done == nil && g.err == nil {
		g.mu.Unlock()
		return nil
	}
	g.run()
	done := g.done
	g.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return nil
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// close ends the check under way, if any, and waits for it.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}

// checkTopic asks the brokers for the topic's metadata through cl. It
// returns an error that classify makes a configuration problem when the
// topic does not exist or the credentials are refused, and nil otherwise:
// a failure that is not an answer (an unreachable broker, a timeout) is
// left to the records.
func (b *Backend) checkTopic(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	// franz-go retries a request whose connection the brokers close
	// during authentication until ctx ends: a refusal ends it now.
	b.conns.onRefusal(cancel)
	defer b.conns.onRefusal(nil)
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(b.topic)
	req.Topics = append(req.Topics, t)
	// As the producer would: a user's kgo.AllowAutoTopicCreation creates
	// the topic here too.
	req.AllowAutoTopicCreation, _ = cl.OptValue(kgo.AllowAutoTopicCreation).(bool)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		if isSASL(err) {
			return err
		}
		return b.conns.refused()
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == b.topic && rt.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			return fmt.Errorf("the brokers' metadata: %w", kerr.UnknownTopicOrPartition)
		}
	}
	return nil
}
