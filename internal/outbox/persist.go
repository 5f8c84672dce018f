package outbox

import "fmt"

// written is what one snapshot wrote for a series, applied once the
// commit succeeded.
type written struct {
	s          *Series
	seq        uint64 // the event record written, 0 if none
	storedOpen bool
}

// Persist commits every pending change to the store, then releases the
// events that were waiting for it. Callers are serialised, so snapshots
// reach the store in the order they were taken. Without a store it does
// nothing.
//
// If the commit fails the events stay pending, unsent, until a commit
// succeeds: an event sent before its record is stored could, after a
// restart, be sent again under another key (the store would still hold the
// open amount it was made of). The error is returned, and the scheduler
// retries the commit after a pause.
func (o *Outbox) Persist() error {
	if o.cfg.Store == nil {
		return nil
	}
	o.persistMu.Lock()
	defer o.persistMu.Unlock()

	o.mu.Lock()
	ch, done, release := o.snapshot()
	o.mu.Unlock()
	if ch.Empty() && len(release) == 0 {
		return nil
	}

	var err error
	if !ch.Empty() {
		err = o.cfg.Store.Commit(ch)
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastCommit = o.mono()
	if err != nil {
		o.stats.storeErrors++
		o.persistFailed = o.mono()
		o.dropped = append(o.dropped, ch.DeleteOpen...)
		o.acked = append(o.acked, ch.DeleteEvents...)
		for _, w := range done {
			o.markDirty(w.s)
			if w.seq != 0 && w.s.event.seq == w.seq {
				w.s.event.rewrite = true
			}
		}
		o.pending = append(release, o.pending...)
		return fmt.Errorf("spool commit: %w", err)
	}
	if !ch.Empty() {
		o.stats.storeCommits++
	}
	o.persistFailed = 0
	for _, w := range done {
		w.s.storedOpen = w.storedOpen
		switch {
		case w.seq == 0:
		case w.s.hasEvent() && w.s.event.seq == w.seq:
			w.s.storedEvent = true
		default:
			// Acknowledged while its record was being written.
			o.acked = append(o.acked, w.seq)
			o.kick()
		}
	}
	for _, s := range release {
		switch {
		case s.state != pending:
		case s.storedEvent && !s.event.rewrite:
			o.makeReady(s)
		default:
			// Not in this commit: keep it back and make sure the next one
			// writes it.
			o.pending = append(o.pending, s)
			o.markDirty(s)
		}
	}
	o.progressed()
	return nil
}

// snapshot turns the pending deletions and the dirty series into one
// Change. mu must be held.
func (o *Outbox) snapshot() (*Change, []written, []*Series) {
	ch := &Change{DeleteOpen: o.dropped, DeleteEvents: o.acked}
	o.dropped, o.acked = nil, nil
	done := make([]written, 0, len(o.dirty))
	for _, s := range o.dirty {
		s.dirty = false
		if s.gone {
			continue // forgotten since; its deletion is queued in dropped
		}
		w := written{s: s, storedOpen: s.storedOpen}
		if s.hasEvent() && (!s.storedEvent || s.event.rewrite) {
			if s.event.id.IsZero() {
				s.event.id = DeriveID(o.cfg.Instance, s.Key, s.event.end)
			}
			ch.PutEvents = append(ch.PutEvents, EventRecord{
				Seq: s.event.seq, Key: s.Key, Units: s.event.units,
				End: s.event.end, ID: s.event.id, Customer: s.event.customer,
			})
			s.event.rewrite = false
			w.seq = s.event.seq
		}
		switch {
		case s.open > 0 || !s.rem.IsZero():
			ch.PutOpen = append(ch.PutOpen, OpenRecord{Key: s.Key, Units: s.open, Rem: s.rem})
			w.storedOpen = true
		case s.storedOpen:
			ch.DeleteOpen = append(ch.DeleteOpen, s.Key)
			w.storedOpen = false
		}
		done = append(done, w)
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	release := o.pending
	o.pending = nil
	return ch, done, release
}

// rewriteEvent marks the series' event record as needing a write.
func (o *Outbox) rewriteEvent(s *Series) {
	s.event.rewrite = true
	o.markDirty(s)
}
