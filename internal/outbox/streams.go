package outbox

// streamRecords is the stored state of cumulative streams. The mapping
// layer updates it during an ingest, so that it is committed in the same
// transaction as the usage it produced: a restart then bills only growth,
// never a stream's usage twice. Kept only with a store.
type streamRecords struct {
	held    map[StreamID]StreamRecord // what the store holds, or will at the next commit
	changed map[StreamID]bool         // written since the last commit: true to put, false to delete
}

func (s *streamRecords) restore(r StreamRecord) {
	if s.held == nil {
		s.held = map[StreamID]StreamRecord{}
	}
	s.held[r.ID] = r
}

func (s *streamRecords) set(r StreamRecord, put bool) {
	if s.held == nil {
		s.held, s.changed = map[StreamID]StreamRecord{}, map[StreamID]bool{}
	} else if s.changed == nil {
		s.changed = map[StreamID]bool{}
	}
	if put {
		s.held[r.ID] = r
	} else {
		delete(s.held, r.ID)
	}
	s.changed[r.ID] = put
}

func (s *streamRecords) changes() int { return len(s.changed) }

// take moves the changes into ch and returns them, to give back if the
// commit fails.
func (s *streamRecords) take(ch *Change) map[StreamID]bool {
	taken := s.changed
	for id, put := range taken {
		if put {
			ch.PutStreams = append(ch.PutStreams, s.held[id])
		} else {
			ch.DeleteStreams = append(ch.DeleteStreams, id)
		}
	}
	s.changed = nil
	return taken
}

// giveBack requeues changes of a failed commit that nothing has replaced.
func (s *streamRecords) giveBack(taken map[StreamID]bool) {
	for id, put := range taken {
		if _, again := s.changed[id]; !again {
			if s.changed == nil {
				s.changed = map[StreamID]bool{}
			}
			s.changed[id] = put
		}
	}
}

// rewriteAll marks every held stream for writing, to a fresh store.
func (s *streamRecords) rewriteAll() {
	s.changed = make(map[StreamID]bool, len(s.held))
	for id := range s.held {
		s.changed[id] = true
	}
}
