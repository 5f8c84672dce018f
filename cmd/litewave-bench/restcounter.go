package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
)

// restProxyCounter answers REST Proxy produces as Confluent's proxy does
// and counts every record it is sent, without storing or deduplicating
// any. The fake process serves it in place of litewavetest's produce
// endpoint, which checks, stores and deduplicates each record under one
// lock: at a million series that took more CPU than the exporter, and set
// the pace of the whole flush.
type restProxyCounter struct {
	records     atomic.Int64
	wrong       atomic.Int64 // records that are not usage of the tenant's customer
	fingerprint atomic.Uint64
}

// usageRecord is the value of a record, as the exporter writes it.
type usageRecord struct {
	Tenant   string `json:"tenant_id"`
	Device   string `json:"device_id"`
	Meter    string `json:"meter_id"`
	Customer string `json:"customer_id"`
	Units    *int64 `json:"total_usage"`
}

// weight is the record's part of a fingerprint; ok is false when it is not
// usage of the customer litewavetest.WithAnyTenant gives its tenant.
func (u *usageRecord) weight() (w uint64, ok bool) {
	if u.Units == nil || *u.Units < 0 || u.Customer != "cus_"+u.Tenant {
		return 0, false
	}
	return seriesPrint(u.Tenant, u.Device, u.Meter) * uint64(*u.Units), true
}

func (c *restProxyCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Records []struct {
			Value usageRecord `json:"value"`
		} `json:"records"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Records) == 0 {
		http.Error(w, `{"error_code":400,"message":"not a produce request"}`, http.StatusBadRequest)
		return
	}
	var sum uint64
	var wrong int64
	for i := range body.Records {
		weight, ok := body.Records[i].Value.weight()
		if !ok {
			wrong++
		}
		sum += weight
	}
	n := int64(len(body.Records))
	first := c.records.Add(n) - n
	c.wrong.Add(wrong)
	c.fingerprint.Add(sum)
	answer := make([]byte, 0, 64+n*64)
	answer = append(answer, `{"offsets":[`...)
	for i := range n {
		if i > 0 {
			answer = append(answer, ',')
		}
		answer = append(answer, `{"partition":0,"offset":`...)
		answer = strconv.AppendInt(answer, first+i, 10)
		answer = append(answer, `,"error_code":null,"error":null}`...)
	}
	answer = append(answer, `],"key_schema_id":null,"value_schema_id":null}`...)
	w.Header().Set("Content-Type", "application/vnd.kafka.v2+json")
	_, _ = w.Write(answer)
}
