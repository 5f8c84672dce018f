package outbox

import (
	"errors"
	"fmt"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// written is what one snapshot wrote for a series, applied once the
// commit succeeded.
type written struct {
	s                          *Series
	seq                        uint64   // the event record written, 0 if none
	id                         usage.ID // its id
	storedOpen, storedRejected bool
}

// snapshotted is one snapshot: the change and what to apply after it.
type snapshotted struct {
	ch       *Change
	ackedIDs []usage.ID // the ids of ch.DeleteEvents
	done     []written
	release  []*Series
	streams  map[StreamID]bool
}

// Persist commits every pending change to the store, then releases the
// events that were waiting for it. Callers are serialised, so snapshots
// reach the store in the order they were taken. Without a store it does
// nothing.
//
// If the commit fails the events stay pending, unsent, until a commit
// succeeds: an event sent before its record is stored could, after a
// restart, be sent again under another key (the store would still hold the
// open amount it was made of). The failure is reported through OnHealth,
// and the scheduler retries the commit after a pause. If the store lost
// its file, everything held is written again to the fresh one at once.
func (o *Outbox) Persist() error {
	if o.cfg.Store == nil {
		return nil
	}
	o.persistMu.Lock()
	defer o.persistMu.Unlock()
	// Reports are queued in order under mu and made without it (see
	// report).
	reported := false
	defer func() {
		if reported {
			o.mu.Lock()
			o.report(nil)
		}
	}()
	for attempt := 0; ; attempt++ {
		o.mu.Lock()
		snap := o.snapshot()
		writes := !snap.ch.Empty() || len(snap.release) > 0
		o.committing = writes
		o.mu.Unlock()
		if !writes {
			return nil
		}
		var err error
		if !snap.ch.Empty() {
			err = o.cfg.Store.Commit(snap.ch)
		}
		if err == nil && o.recover != nil && len(snap.ackedIDs) > 0 {
			o.recover.Released(snap.ackedIDs)
		}
		o.mu.Lock()
		o.committing = false
		if r := o.applyCommit(snap, err); r != nil {
			o.queueReports([]func(){r})
			reported = true
		}
		lost := errors.Is(err, ErrStoreLost)
		if lost {
			o.rewriteAll()
		}
		o.mu.Unlock()
		if !lost || attempt > 0 {
			if err != nil {
				return fmt.Errorf("spool commit: %w", err)
			}
			return nil
		}
		if o.cfg.OnStoreLost != nil {
			o.cfg.OnStoreLost(err)
		}
	}
}

// applyCommit applies the outcome of committing snap. mu must be held.
func (o *Outbox) applyCommit(snap snapshotted, err error) func() {
	defer o.progressed()
	o.lastCommit = o.mono()
	ch := snap.ch
	if err != nil {
		o.stats.SpoolErrors++
		o.persistFailed = o.mono()
		o.dropped = append(o.dropped, ch.DeleteOpen...)
		o.acked = append(o.acked, ch.DeleteEvents...)
		o.ackedID = append(o.ackedID, snap.ackedIDs...)
		o.streams.giveBack(snap.streams)
		for _, w := range snap.done {
			o.markDirty(w.s)
			if w.seq != 0 && w.s.event.seq == w.seq {
				w.s.rewrite = true
			}
		}
		o.pending = append(snap.release, o.pending...)
		return o.spoolFailed(err)
	}
	if !ch.Empty() {
		o.stats.SpoolCommits++
	}
	o.persistFailed = 0
	o.uncommitted = 0 // the store counts what was written now
	for _, w := range snap.done {
		w.s.storedOpen, w.s.storedRejected = w.storedOpen, w.storedRejected
		switch {
		case w.seq == 0:
		case w.s.hasEvent() && w.s.event.seq == w.seq:
			w.s.storedEvent = true
		default:
			// Acknowledged while its record was being written.
			o.ack(w.seq, w.id)
			o.kick()
		}
	}
	for _, s := range snap.release {
		o.releaseCommitted(s)
	}
	return o.spoolWritten()
}

// snapshot turns the pending deletions and the dirty series into one
// Change. mu must be held.
func (o *Outbox) snapshot() snapshotted {
	ch := &Change{DeleteOpen: o.dropped, DeleteEvents: o.acked}
	ackedIDs := o.ackedID
	o.dropped, o.acked, o.ackedID = nil, nil, nil
	if o.recover != nil {
		ch.Mark = o.recover.Mark()
	}
	done := make([]written, 0, len(o.dirty))
	for _, s := range o.dirty {
		s.dirty = false
		if s.forgotten.Load() {
			continue // forgotten since; its deletion is queued in dropped
		}
		w := written{s: s, storedOpen: s.storedOpen, storedRejected: s.storedRejected}
		if ev := &s.event; s.hasEvent() && (!s.storedEvent || s.rewrite) {
			if ev.id.IsZero() {
				o.ids.Derive(&ev.id, s.key(), ev.seq)
			}
			ch.PutEvents = append(ch.PutEvents, EventRecord{
				Seq: ev.seq, Key: s.key(), Units: ev.units, Start: ev.start, End: ev.end, ID: ev.id, Customer: ev.customerName(),
			})
			s.rewrite = false
			w.seq, w.id = ev.seq, ev.id
		}
		switch {
		case s.open > 0 || !s.remainder().IsZero():
			ch.PutOpen = append(ch.PutOpen, OpenRecord{Key: s.key(), Units: s.open, Start: s.openStart, Rem: s.remainder()})
			w.storedOpen = true
		case s.storedOpen:
			ch.DeleteOpen = append(ch.DeleteOpen, s.key())
			w.storedOpen = false
		}
		switch p := s.rejected(); {
		case p != nil:
			ch.PutRejected = append(ch.PutRejected, RejectedRecord{Key: s.key(), Units: p.units, Reason: p.reason, Since: p.since})
			w.storedRejected = true
		case s.storedRejected:
			ch.DeleteRejected = append(ch.DeleteRejected, s.key())
			w.storedRejected = false
		}
		done = append(done, w)
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	release := o.pending
	o.pending = nil
	return snapshotted{ch: ch, ackedIDs: ackedIDs, done: done, release: release, streams: o.streams.take(ch)}
}

// rewriteAll marks everything held for writing to a fresh, empty store.
// mu must be held.
func (o *Outbox) rewriteAll() {
	o.dropped, o.acked, o.ackedID = nil, nil, nil
	o.series.all(func(s *Series) {
		s.storedEvent, s.storedOpen, s.storedRejected = false, false, false
		if s.hasEvent() {
			s.rewrite = true
		}
		o.markDirty(s)
	})
	o.streams.rewriteAll()
}

// ack queues the deletion of an acknowledged event's record. mu must be
// held.
func (o *Outbox) ack(seq uint64, id usage.ID) {
	o.acked = append(o.acked, seq)
	if o.recover != nil {
		o.ackedID = append(o.ackedID, id)
	}
}
