package outbox

import "fmt"

// written is what one snapshot wrote for a series, applied once the
// commit succeeded.
type written struct {
	s          *Series
	stored     uint64
	storedOpen bool
	event      bool // the event record was (re)written
}

// Persist commits every pending change to the store, then releases the
// events that were waiting for it. Callers are serialised, so snapshots
// reach the store in the order they were taken. Without a store it does
// nothing.
//
// If the commit fails the events are released all the same (usage must
// still reach the backend) and their records are retried by the next
// commit; the error is returned.
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
	if err != nil {
		o.stats.storeErrors++
		o.persistFailed = o.mono()
		o.dropped = append(o.dropped, ch.DeleteOpen...)
		for _, w := range done {
			o.markDirty(w.s)
			if w.event {
				o.rewriteEvent(w.s)
			}
		}
		err = fmt.Errorf("spool commit: %w", err)
	} else {
		if !ch.Empty() {
			o.stats.storeCommits++
		}
		o.persistFailed = 0
		for _, w := range done {
			w.s.stored, w.s.storedOpen = w.stored, w.storedOpen
		}
	}
	for _, s := range release {
		if s.state == pending {
			o.makeReady(s)
		}
	}
	o.progressed()
	return err
}

// snapshot turns the dirty series into one Change. mu must be held.
func (o *Outbox) snapshot() (*Change, []written, []*Series) {
	ch := &Change{DeleteOpen: o.dropped}
	o.dropped = nil
	done := make([]written, 0, len(o.dirty))
	for _, s := range o.dirty {
		s.dirty = false
		w := written{s: s, stored: s.stored, storedOpen: s.storedOpen}
		if s.hasEvent() {
			if s.stored != s.event.seq || s.event.rewrite {
				if s.event.id.IsZero() {
					s.event.id = DeriveID(o.cfg.Instance, s.Key, s.event.from, s.event.to)
				}
				ch.PutEvents = append(ch.PutEvents, EventRecord{
					Seq: s.event.seq, Key: s.Key, Units: s.event.units,
					From: s.event.from, To: s.event.to, ID: s.event.id, Customer: s.event.customer,
				})
				s.event.rewrite = false
				w.event = true
			}
			if s.stored != 0 && s.stored != s.event.seq {
				ch.DeleteEvents = append(ch.DeleteEvents, s.stored)
			}
			w.stored = s.event.seq
		} else if s.stored != 0 {
			ch.DeleteEvents = append(ch.DeleteEvents, s.stored)
			w.stored = 0
		}
		switch {
		case s.open > 0 || !s.rem.IsZero():
			ch.PutOpen = append(ch.PutOpen, OpenRecord{Key: s.Key, Units: s.open, From: s.openFrom, Rem: s.rem})
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
