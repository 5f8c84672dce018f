package main

import (
	"runtime/metrics"
	"time"
)

// heapObjects is the heap's objects, live and not yet swept: HeapAlloc,
// read without stopping the world.
const heapObjects = "/memory/classes/heap/objects:bytes"

// sampleHeapPeak samples the heap every interval until the returned
// function is called, which returns the highest heap seen.
func sampleHeapPeak(every time.Duration) (stop func() uint64) {
	quit, peak := make(chan struct{}), make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: heapObjects}}
		var high uint64
		read := func() {
			metrics.Read(s)
			high = max(high, s[0].Value.Uint64())
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			read()
			select {
			case <-t.C:
			case <-quit:
				read()
				peak <- high
				return
			}
		}
	}()
	return func() uint64 {
		close(quit)
		return <-peak
	}
}
