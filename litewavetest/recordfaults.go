package litewavetest

// RecordFault fails one record of a produce request, which is then not
// recorded. Code is the per-record error code in the server's answer form:
// a REST Proxy code such as 50003 (retriable), 50002, 40101 or 40301 (the
// latter two make the answer 401 or 403), or with WithRedpandaAnswers a
// Kafka protocol code such as 3 (UNKNOWN_TOPIC_OR_PARTITION), which fails
// the record's whole partition batch. A Code of 0 lets the record through.
type RecordFault struct {
	Code int
	// Message is the REST Proxy's "error" text; empty means a default.
	// Redpanda answers carry no text.
	Message string
}

// ScriptRecords queues record faults, applied one per record to the next
// records received, in order. As with Script, a record that takes a queued
// fault (even a zero one) does not call the record fault function.
func (s *Server) ScriptRecords(faults ...RecordFault) {
	s.mu.Lock()
	s.recordScript = append(s.recordScript, faults...)
	s.mu.Unlock()
}

// SetRecordFaultFunc makes f decide the fault for each record; nil
// disables it. n is the 1-based sequence number of the record among the
// records of well-formed produces to existing topics. f is called
// concurrently, without the server's lock held, and must not modify key or
// value (compacted JSON; key is nil for a keyless record).
func (s *Server) SetRecordFaultFunc(f func(topic string, key, value []byte, n int) RecordFault) {
	s.mu.Lock()
	s.recordFaultFunc = f
	s.mu.Unlock()
}

// applyRecordFaults numbers recs, takes their queued faults and asks the
// record fault function about the rest, outside the lock so that it may call back
// into the Server.
func (s *Server) applyRecordFaults(topic string, recs []recordIn) {
	s.mu.Lock()
	base := s.recordSeq
	s.recordSeq += len(recs)
	n := min(len(s.recordScript), len(recs))
	queued := append([]RecordFault(nil), s.recordScript[:n]...)
	s.recordScript = s.recordScript[n:]
	ff := s.recordFaultFunc
	s.mu.Unlock()

	for i := range recs {
		var f RecordFault
		switch {
		case i < len(queued):
			f = queued[i]
		case ff != nil:
			f = ff(topic, recs[i].key, recs[i].value, base+i+1)
		}
		if f.Code == 0 {
			continue
		}
		if f.Message == "" {
			f.Message = "injected record fault"
		}
		recs[i].fail = failure{f.Code, f.Message}
	}
}
