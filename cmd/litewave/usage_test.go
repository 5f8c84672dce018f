package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aiorch/litewavemetric"
)

// Every command's --help exits 0 and prints its synopsis and its flags to
// stdout.
func TestHelpOfEveryCommand(t *testing.T) {
	cases := []struct {
		args  []string
		shows []string
	}{
		{[]string{"--help"}, []string{"usage: litewave COMMAND", "lookup", "post", "spool", "dev", "version"}},
		{[]string{"help"}, []string{"usage: litewave COMMAND"}},
		{[]string{"lookup", "--help"}, []string{"usage: litewave lookup TENANT", "LITEWAVE_PORTAL_URL"}},
		{[]string{"post", "--help"}, []string{"usage: litewave post", "--tenant", "--device", "--meter", "--usage"}},
		{[]string{"spool", "--help"}, []string{"usage: litewave spool COMMAND", "inspect", "drain"}},
		{[]string{"spool", "inspect", "--help"}, []string{"usage: litewave spool inspect DIR", "a running exporter"}},
		{[]string{"spool", "drain", "--help"}, []string{"usage: litewave spool drain DIR", "--timeout duration", "(default 2m0s)"}},
		{[]string{"dev", "-h"}, []string{"usage: litewave dev", "--addr HOST:PORT", "(default 127.0.0.1:8080)", "--kafka-port PORT", "(default 9092)", "--customer TENANT=ID", "--redpanda"}},
		{[]string{"version", "--help"}, []string{"usage: litewave version"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			res := litewave(t, nil, c.args...)
			assert.Equal(t, 0, res.code)
			for _, s := range c.shows {
				assert.Contains(t, res.stdout, s)
			}
			assert.Empty(t, res.stderr)
		})
	}
}

// A command line that does not parse exits 2 with one line saying what is
// wanted and where the help is, not the help itself.
func TestBadUsageExits2WithOneLine(t *testing.T) {
	cases := []struct {
		args       []string
		says, help string
	}{
		{nil, "want a command: lookup, post, spool, dev or version", "litewave"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; want lookup, post, spool, dev or version`, "litewave"},
		{[]string{"lookup"}, "lookup: missing TENANT", "litewave lookup"},
		{[]string{"lookup", ""}, `lookup: TENANT takes a tenant id (` + idForm + `), not ""`, "litewave lookup"},
		{[]string{"lookup", "acme/../x"}, `lookup: TENANT takes a tenant id (` + idForm + `), not "acme/../x"`, "litewave lookup"},
		{[]string{"lookup", "acme", "extra"}, `lookup: unexpected argument "extra"`, "litewave lookup"},
		{[]string{"lookup", "--verbose", "acme"}, "lookup: unknown flag --verbose", "litewave lookup"},
		{[]string{"post", "--tenant", "acme", "--meter", "pages"}, "post: missing --device, --usage", "litewave post"},
		{[]string{"post", "--tenant", "", "--device", "d", "--meter", "pages", "--usage", "1"}, `post: --tenant takes a tenant id (` + idForm + `), not ""`, "litewave post"},
		{[]string{"post", "--tenant", "acme", "--device", "d", "--meter", "", "--usage", "1"}, `post: --meter takes a meter id, not ""`, "litewave post"},
		{[]string{"post", "--tenant", "acme", "--device", "d", "--meter", "pages", "--usage", "2.5"}, `post: --usage takes a whole number of units, 0 or more, not "2.5"`, "litewave post"},
		{[]string{"post", "--tenant", "acme", "--device", "d", "--meter", "pages", "--usage", "-1"}, `post: --usage takes a whole number of units, 0 or more, not "-1"`, "litewave post"},
		{[]string{"post", "--usage"}, "post: --usage needs a value: a whole number of units, 0 or more", "litewave post"},
		{[]string{"spool"}, "spool: want a command: inspect or drain", "litewave spool"},
		{[]string{"spool", "inspect"}, "spool inspect: missing DIR", "litewave spool inspect"},
		{[]string{"spool", "drain", "/nonexistent", "--timeout", "soon"}, `spool drain: --timeout takes a positive duration such as 30s or 2m, not "soon"`, "litewave spool drain"},
		{[]string{"spool", "drain", "/nonexistent", "--timeout", "0s"}, `spool drain: --timeout takes a positive duration such as 30s or 2m, not "0s"`, "litewave spool drain"},
		{[]string{"dev", "--addr", "8080"}, `dev: --addr takes HOST:PORT, e.g. 127.0.0.1:8080, not "8080"`, "litewave dev"},
		{[]string{"dev", "--kafka-port", "70000"}, `dev: --kafka-port takes a port number from 0 to 65535, not "70000"`, "litewave dev"},
		{[]string{"dev", "--customer", "acme"}, `dev: --customer takes TENANT=ID, e.g. acme=cus_42, not "acme"`, "litewave dev"},
		{[]string{"dev", "--redpanda=maybe"}, `dev: --redpanda takes true or false, not "maybe"`, "litewave dev"},
		{[]string{"version", "--short"}, "version: unknown flag --short", "litewave version"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			res := litewave(t, nil, c.args...)
			assert.Equal(t, 2, res.code)
			assert.Equal(t, "litewave: "+c.says+"\nrun '"+c.help+" --help' for usage\n", res.stderr)
			assert.Empty(t, res.stdout)
		})
	}
}

// version prints the library's version.
func TestVersion(t *testing.T) {
	res := litewave(t, nil, "version")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "litewave "+litewavemetric.Version+"\n", res.stdout)
	assert.Empty(t, res.stderr)
}
