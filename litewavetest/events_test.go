package litewavetest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventRecorded(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)

	body := `{"meter_id":"pages.processed","total_usage":24,"customer_id":"cus_1"}`
	before := time.Now()
	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "key-1", body))
	require.Equal(t, http.StatusCreated, res.status)
	assert.JSONEq(t, `{"id":"evt_1","status":"accepted"}`, res.body)

	evs := s.Events()
	require.Len(t, evs, 1)
	e := evs[0]
	assert.Equal(t, "evt_1", e.ID)
	assert.Equal(t, "t1", e.Tenant)
	assert.Equal(t, "d1", e.Device)
	assert.Equal(t, "pages.processed", e.Meter)
	assert.Equal(t, "cus_1", e.CustomerID)
	assert.EqualValues(t, 24, e.TotalUsage)
	assert.Equal(t, "key-1", e.IdempotencyKey)
	assert.Equal(t, body, string(e.Body))
	assert.Equal(t, "application/json", e.Header.Get("Content-Type"))
	assert.Equal(t, "key-1", e.Header.Get("Idempotency-Key"))
	assert.False(t, e.Duplicate)
	assert.False(t, e.Received.Before(before))

	// Returned events are copies.
	evs[0].Body[0] = 'X'
	evs[0].Header.Set("X-Tenant-Id", "changed")
	assert.Equal(t, body, string(s.Events()[0].Body))
	assert.Equal(t, "t1", s.Events()[0].Header.Get("X-Tenant-Id"))

	assert.Equal(t, map[Series]int64{{"t1", "d1", "pages.processed"}: 24}, s.Totals())
	assert.EqualValues(t, 24, s.Total())
}

func TestEventValidation(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)

	cases := []struct {
		name, tenant, device, body string
		status                     int
		detail                     string
	}{
		{"no tenant", "", "d1", eventBody("m", 1, "cus_1"), 400, "x-tenant-id"},
		{"no device", "t1", "", eventBody("m", 1, "cus_1"), 400, "x-device-id"},
		{"not json", "t1", "d1", `meter=1`, 400, "invalid JSON"},
		{"trailing garbage", "t1", "d1", eventBody("m", 1, "cus_1") + "x", 400, "invalid JSON"},
		{"empty body", "t1", "d1", ``, 400, "invalid JSON"},
		{"missing meter", "t1", "d1", `{"total_usage":1,"customer_id":"cus_1"}`, 400, "meter_id"},
		{"empty meter", "t1", "d1", eventBody("", 1, "cus_1"), 400, "meter_id"},
		{"numeric meter", "t1", "d1", `{"meter_id":7,"total_usage":1,"customer_id":"cus_1"}`, 400, "invalid JSON"},
		{"missing usage", "t1", "d1", `{"meter_id":"m","customer_id":"cus_1"}`, 400, "total_usage"},
		{"null usage", "t1", "d1", `{"meter_id":"m","total_usage":null,"customer_id":"cus_1"}`, 400, "total_usage"},
		{"float usage", "t1", "d1", `{"meter_id":"m","total_usage":1.5,"customer_id":"cus_1"}`, 400, "integer"},
		{"exponent usage", "t1", "d1", `{"meter_id":"m","total_usage":1e3,"customer_id":"cus_1"}`, 400, "integer"},
		{"string usage", "t1", "d1", `{"meter_id":"m","total_usage":"5","customer_id":"cus_1"}`, 400, "integer"},
		{"negative usage", "t1", "d1", eventBody("m", -1, "cus_1"), 400, "negative"},
		{"missing customer", "t1", "d1", `{"meter_id":"m","total_usage":1}`, 400, "customer_id"},
		{"wrong customer", "t1", "d1", eventBody("m", 1, "cus_2"), 400, "does not match"},
		{"unknown tenant", "t9", "d1", eventBody("m", 1, "cus_1"), 400, "unknown tenant"},
		{"too large", "t1", "d1", `{"meter_id":"` + strings.Repeat("m", 70<<10) + `"}`, 413, "64 KiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := mustDo(t, c, eventReq(t, s.URL, tc.tenant, tc.device, "", tc.body))
			assert.Equal(t, tc.status, res.status)
			assert.Equal(t, "application/json", res.header.Get("Content-Type"))
			assert.Contains(t, res.body, `{"detail":"`)
			assert.Contains(t, res.body, tc.detail)
		})
	}
	assert.Empty(t, s.Events())
	assert.Zero(t, s.Total())
	st := s.Stats()
	assert.EqualValues(t, len(cases), st.Rejected)
	assert.EqualValues(t, len(cases), st.Posts)
	assert.Zero(t, st.Accepted)

	// Zero usage and unknown extra fields are valid.
	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "",
		`{"meter_id":"m","total_usage":0,"customer_id":"cus_1","extra":true}`))
	assert.Equal(t, http.StatusCreated, res.status)
}

func TestIdempotency(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)
	body := eventBody("m", 10, "cus_1")

	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	require.Equal(t, http.StatusCreated, res.status)
	assert.JSONEq(t, `{"id":"evt_1","status":"accepted"}`, res.body)

	// Same key, same bytes: acknowledged with the same id, not counted.
	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", body))
	require.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"id":"evt_1","status":"duplicate"}`, res.body)

	// Same key, different bytes: conflict, not counted, not an event.
	res = mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 11, "cus_1")))
	require.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Contains(t, res.body, "idempotency key")

	// Other keys and key-less events are always counted.
	assert.Equal(t, http.StatusCreated, mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "k2", body)).status)
	assert.Equal(t, http.StatusCreated, mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", body)).status)
	assert.Equal(t, http.StatusCreated, mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", body)).status)

	assert.EqualValues(t, 40, s.Total())
	evs := s.Events()
	require.Len(t, evs, 5)
	assert.False(t, evs[0].Duplicate)
	assert.True(t, evs[1].Duplicate)
	assert.Equal(t, "evt_1", evs[1].ID)
	assert.Equal(t, []string{"evt_1", "evt_1", "evt_2", "evt_3", "evt_4"},
		[]string{evs[0].ID, evs[1].ID, evs[2].ID, evs[3].ID, evs[4].ID})

	conf := s.Conflicts()
	require.Len(t, conf, 1)
	assert.Equal(t, "k1", conf[0].IdempotencyKey)
	assert.EqualValues(t, 11, conf[0].TotalUsage)

	st := s.Stats()
	assert.EqualValues(t, 4, st.Accepted)
	assert.EqualValues(t, 1, st.Duplicates)
	assert.EqualValues(t, 1, st.Conflicts)
}

// TestConcurrentPosts checks exact accounting under contention (run with -race).
func TestConcurrentPosts(t *testing.T) {
	const workers, perWorker = 64, 200
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithCustomer("t2", "cus_2"))
	c := newClient(t, true, 30*time.Second)

	stopReading := readWhileWriting(s)

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant, cust := "t1", "cus_1"
			if w%2 == 1 {
				tenant, cust = "t2", "cus_2"
			}
			for i := range perWorker {
				req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/events",
					strings.NewReader(eventBody("m", int64(i%7), cust)))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("x-tenant-id", tenant)
				req.Header.Set("x-device-id", fmt.Sprintf("d%d", (w/2)%4))
				req.Header.Set("Idempotency-Key", fmt.Sprintf("w%d-%d", w, i))
				res, err := do(c, req)
				if err != nil {
					errs <- err
					return
				}
				if res.status != http.StatusCreated {
					errs <- fmt.Errorf("status %d: %s", res.status, res.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	stopReading()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var perWorkerSum int64
	for i := range perWorker {
		perWorkerSum += int64(i % 7)
	}
	assert.Equal(t, workers*perWorkerSum, s.Total())
	totals := s.Totals()
	assert.Len(t, totals, 8) // 2 tenants x 4 devices x 1 meter
	for series, v := range totals {
		assert.Equal(t, 8*perWorkerSum, v, "%v", series)
	}
	st := s.Stats()
	assert.EqualValues(t, workers*perWorker, st.Accepted)
	assert.EqualValues(t, workers*perWorker, st.Posts)
	assert.Len(t, s.Events(), workers*perWorker)
	assert.Len(t, s.Requests(), workers*perWorker)
}
