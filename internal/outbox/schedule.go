package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/aiorch/litewavemetric/internal/retry"
)

// retryWait is the wait before the next attempt: the server's, if it gave
// one; else the flush backoff while a Flush is under way, the normal one
// otherwise. mu must be held.
func (o *Outbox) retryWait(attempts int, server time.Duration) time.Duration {
	if o.flushing > 0 && server == 0 {
		return retry.Flush.Backoff(attempts)
	}
	return o.cfg.Retry.Wait(attempts, server)
}

// Flush delivers everything owed now and waits until nothing deliverable is
// owed and the store holds the final state (see storeCurrent), or ctx ends,
// or the outbox is closed (ErrStopped). Every event waiting on its backoff
// is attempted at once (those waiting on a server's Retry-After wait for
// it), and while the flush lasts failures are retried on the short flush
// backoff: events in flight at the call, events whose attempt fails, and
// events that arrive during the flush.
//
// It returns ErrUnfixable early, once every owed event has had an answer
// during this flush and each still owed was refused for a configuration
// problem that retrying cannot fix (see definite): waiting longer would
// only wait out ctx.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	o.flushing++
	o.flushes++
	gen := o.flushes
	o.retryLookupsNow()
	now := o.mono()
	for _, s := range o.retries {
		if r := &s.extra.retry; !r.serverWait {
			r.next = now
		}
	}
	if len(o.retries) > 0 {
		o.retries.reorder()
		o.kick()
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.flushing--
		o.mu.Unlock()
	}()
	stuck := false
	err := o.waitFor(ctx, func() bool {
		if o.drained() {
			return true
		}
		stuck = o.stuck(gen)
		return stuck
	})
	if err == nil && stuck {
		return ErrUnfixable
	}
	return err
}

// ErrUnfixable ends a Flush whose owed usage all waits on configuration
// problems that retrying cannot fix.
var ErrUnfixable = errors.New("delivery stopped early: everything owed was refused for a configuration problem that retrying cannot fix")

// drained reports whether nothing deliverable is owed and the store holds
// the current state (see storeCurrent). mu must be held.
func (o *Outbox) drained() bool {
	return o.stats.OwedUnits == 0 && o.reporting == 0 && o.storeCurrent()
}

// storeCurrent reports whether the store, if any, holds the current state:
// nothing waits to be committed, and no commit is under way (its snapshot
// took what it writes out of the queues). A Flush waits for it, so that
// what it delivered is deleted from the store, and its room freed for new
// series, when it returns. mu must be held.
func (o *Outbox) storeCurrent() bool {
	return o.cfg.Store == nil || !o.committing && len(o.pending)+len(o.dirty)+len(o.dropped)+len(o.acked)+o.streams.changes() == 0
}

// stuck reports whether every owed event waits for its retry after an
// attempt that ended since flush gen began and failed for a definite
// configuration problem, its reports made and the store up to date. Events
// in flight, queued, set aside for a lookup or waiting for the store may
// still be delivered: while any is, the flush goes on. mu must be held.
func (o *Outbox) stuck(gen uint64) bool {
	if o.stats.OwedEvents == 0 || int64(len(o.retries)) != o.stats.OwedEvents || o.reporting > 0 || !o.storeCurrent() {
		return false
	}
	for _, s := range o.retries {
		if r := &s.extra.retry; r.tried < gen || !r.definite {
			return false
		}
	}
	return true
}

// schedule moves events whose retry time has come to the ready queue and
// commits changes to the store, until the outbox stops. Commits follow one
// another (group commit): what changes while one runs goes into the next,
// which starts as soon as it ends if it is due (commitDue).
func (o *Outbox) schedule() {
	defer o.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		o.mu.Lock()
		next := o.releaseDue()
		commit, later := o.commitDue()
		o.mu.Unlock()
		if commit {
			_ = o.Persist() // its failures are reported through OnHealth
			select {
			case <-o.stop:
				return
			default:
				continue
			}
		}
		if later > 0 && (next == 0 || later < next) {
			next = later
		}
		if next > 0 {
			timer.Reset(next)
		}
		select {
		case <-o.wake:
		case <-timer.C:
		case <-o.stop:
			return
		}
	}
}

const (
	// commitPause bounds how long changes that no event waits for (open
	// amounts, acknowledgements short of a group) wait for a commit.
	commitPause = 10 * time.Millisecond
	// storeRetryPause spaces out commits after a store failure, so that a
	// failing disk is not hammered in a loop.
	storeRetryPause = time.Second
)

// commitDue reports whether the scheduler should commit now, or else in how
// long (0: nothing to commit). mu must be held.
//
// Events waiting to be stored before their first send are committed at
// once, and so is what a Flush waits for once nothing is owed. A store
// with an AckLog has recorded the acknowledgements already, so their
// deletions wait for the pause: a crash resends, with their keys,
// only the events in flight. Without one, they are committed at once when
// a group waits, two per request in flight: a crash then resends the
// events in flight, a group, and what was acknowledged while the last
// commit ran. Smaller groups cost delivery its rate: a synced commit costs
// the machine about as much as five deliveries to a fast backend, and
// committing whatever waits as soon as the last commit ends took spool/no
// spool in cmd/litewave-bench from 0.87 to 0.60.
func (o *Outbox) commitDue() (bool, time.Duration) {
	if o.cfg.Store == nil || len(o.pending)+len(o.dirty)+len(o.dropped)+len(o.acked)+o.streams.changes() == 0 {
		return false, 0
	}
	_, logged := o.cfg.Store.(AckLog)
	pause := commitPause
	switch {
	case o.persistFailed != 0:
		pause = storeRetryPause
	case len(o.pending) > 0, !logged && len(o.acked) >= 2*max(1, o.cfg.Concurrency):
		return true, 0
	case o.flushing > 0 && o.stats.OwedUnits == 0 && !o.storeCurrent():
		// A Flush waits for nothing but this commit: a pause would only
		// add to it.
		return true, 0
	}
	if wait := time.Duration(o.lastCommit + int64(pause) - o.mono()); wait > 0 {
		return false, wait
	}
	return true, 0
}
