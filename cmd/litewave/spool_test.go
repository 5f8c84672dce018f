package main

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/spool"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// deadEndpoint is a loopback URL where nothing listens.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// killedReplicaSpool is the spool of a replica killed with SIGKILL while
// its backend was unreachable, and what the replica counted.
func killedReplicaSpool(t *testing.T) (string, counted) {
	t.Helper()
	dir := t.TempDir()
	cmd, c := startReplica(t, "kill", deadEndpoint(t), dir)
	killReplica(t, cmd)
	return dir, c
}

// inspected is inspect's table: units per series, waiting and rejected,
// with the reasons of the rejected.
type inspected struct {
	waiting, rejected counted
	reasons           map[string]string
}

func parseInspect(t *testing.T, stdout string) inspected {
	t.Helper()
	in := inspected{waiting: counted{}, rejected: counted{}, reasons: map[string]string{}}
	rows := false
	for line := range strings.Lines(stdout) {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "TENANT":
			rows = true
		case len(f) > 0 && f[0] == "total:":
			rows = false
		case rows:
			require.GreaterOrEqual(t, len(f), 5, "row %q", line)
			units, err := strconv.ParseInt(f[3], 10, 64)
			require.NoError(t, err, "row %q", line)
			key := seriesKey(f[0], f[1], f[2])
			switch state := strings.Join(f[4:], " "); {
			case state == "owed":
				in.waiting[key] = units
			case strings.HasPrefix(state, "rejected: "):
				in.rejected[key] = units
				in.reasons[key] = strings.TrimPrefix(state, "rejected: ")
			default:
				t.Fatalf("row %q: unknown state", line)
			}
		}
	}
	return in
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

// totals is what srv billed, keyed as counted.
func totals(srv *litewavetest.Server) counted {
	out := counted{}
	for s, v := range srv.Totals() {
		out[seriesKey(s.Tenant, s.Device, s.Meter)] = v
	}
	return out
}

func TestInspectShowsWhatAKilledReplicaLeft(t *testing.T) {
	dir, c := killedReplicaSpool(t)
	before := fileSum(t, filepath.Join(dir, spool.FileName))

	res := litewave(t, nil, "spool", "inspect", dir)
	require.Equal(t, 0, res.code)
	in := parseInspect(t, res.stdout)
	assert.Equal(t, c, in.waiting, "every unit the replica counted is waiting in its spool")
	assert.Empty(t, in.rejected)
	assert.Contains(t, res.stdout, fmt.Sprintf("total: %d units owed in %d series; 0 units rejected in 0 series", c.total(), len(c)))
	// Each tokens series counted 1.5: 1 unit is waiting, half a unit is carried.
	assert.Contains(t, res.stdout, "carried: fractions below one unit in 6 series (3 units in all)")
	assert.Equal(t, before, fileSum(t, filepath.Join(dir, spool.FileName)), "inspect changes nothing")
}

func TestInspectWhileAnExporterHoldsTheSpool(t *testing.T) {
	dir := t.TempDir()
	startReplica(t, "kill", deadEndpoint(t), dir) // alive until the test ends

	inUse := "litewave: the spool at " + dir + " is in use by a running exporter; stop it first, or inspect a copy of the directory\n"
	res := litewave(t, nil, "spool", "inspect", dir)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, inUse, res.stderr)
	assert.Empty(t, res.stdout)
	res = litewave(t, nil, "spool", "drain", dir)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, inUse, res.stderr)

	// The advice works: a copy can be read while the exporter runs.
	cp := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, spool.FileName))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cp, spool.FileName), b, 0o600))
	res = litewave(t, nil, "spool", "inspect", cp)
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "owed")
}

func TestInspectWhereThereIsNoSpool(t *testing.T) {
	dir := t.TempDir()
	res := litewave(t, nil, "spool", "inspect", dir)
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "litewave: no spool at "+dir+": there is no outbox.db in it (an exporter with LITEWAVE_SPOOL_DIR="+dir+" creates one)\n", res.stderr)
}

// Another process delivers a dead replica's spool: exactly what the
// replica counted, once, and the spool is left empty.
func TestDrainDeliversAKilledReplicasSpool(t *testing.T) {
	dir, c := killedReplicaSpool(t)
	srv := newServer(t, litewavetest.WithAnyTenant())

	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + srv.URL}, "spool", "drain", dir, "--timeout", "30s")
	require.Equal(t, 0, res.code)
	assert.Equal(t, c, totals(srv), "the backend billed what the replica counted")
	assert.Empty(t, srv.Conflicts(), "replays carry their original bytes")
	assert.Contains(t, res.stdout, fmt.Sprintf("delivered %d units", c.total()))
	assert.Contains(t, res.stdout, "holds no usage")

	res = litewave(t, nil, "spool", "inspect", dir)
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "spool "+dir+" holds no usage: nothing owed, nothing rejected")
}

// With the backend still down, a drain fails and leaves the usage where it
// was.
func TestDrainWithTheBackendDownKeepsTheUsage(t *testing.T) {
	dir, c := killedReplicaSpool(t)

	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + deadEndpoint(t)}, "spool", "drain", dir, "--timeout", "1s")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, c, parseInspect(t, res.stdout).waiting, "the drain says what stays")
	assert.Contains(t, res.stderr, fmt.Sprintf("litewave: spool drain %s: %d units owed and 0 rejected stay in the spool", dir, c.total()))
	assert.Contains(t, res.stderr, "connection refused")

	res = litewave(t, nil, "spool", "inspect", dir)
	require.Equal(t, 0, res.code)
	assert.Equal(t, c, parseInspect(t, res.stdout).waiting, "the usage stays in the spool")
}

// Rejected usage is reported by inspect; a drain sends it again, as any
// restart does: rejected once more while the backend still rejects it
// (exit 1), delivered once the cause is fixed.
func TestDrainOfRejectedUsage(t *testing.T) {
	rejecting := newServer(t, litewavetest.WithAnyTenant())
	rejecting.SetFaultFunc(func(r *http.Request, _ int) litewavetest.Fault {
		if r.Header.Get("x-tenant-id") == "initech" {
			return litewavetest.Fault{Target: "events", Status: http.StatusUnprocessableEntity, Body: `{"detail":"customer suspended"}`}
		}
		return litewavetest.Fault{}
	})
	dir := t.TempDir()
	cmd, c := startReplica(t, "exit", rejecting.URL, dir)
	require.NoError(t, cmd.Wait())
	billed := counted{}
	for _, tenant := range []string{"acme", "globex"} {
		maps.Copy(billed, c.only(tenant))
	}
	require.Equal(t, billed, totals(rejecting), "the other tenants were billed")

	res := litewave(t, nil, "spool", "inspect", dir)
	require.Equal(t, 0, res.code)
	in := parseInspect(t, res.stdout)
	assert.Equal(t, c.only("initech"), in.rejected)
	for key, reason := range in.reasons {
		assert.Contains(t, reason, "HTTP 422", key)
		assert.Contains(t, reason, "customer suspended", key)
	}

	res = litewave(t, []string{"LITEWAVE_ENDPOINT=" + rejecting.URL}, "spool", "drain", dir)
	assert.Equal(t, 1, res.code, "rejected again: it stays")
	assert.Equal(t, c.only("initech"), parseInspect(t, res.stdout).rejected, "the drain shows what is rejected")
	assert.Contains(t, res.stderr, "customer suspended")

	fixed := newServer(t, litewavetest.WithAnyTenant())
	res = litewave(t, []string{"LITEWAVE_ENDPOINT=" + fixed.URL}, "spool", "drain", dir)
	require.Equal(t, 0, res.code, "%s", res.stderr)
	assert.Equal(t, c.only("initech"), totals(fixed))
	assert.Contains(t, res.stdout, "holds no usage")
}
