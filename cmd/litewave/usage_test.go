package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every command's --help exits 0 and prints its synopsis and its flags to
// stdout.
func TestHelpOfEveryCommand(t *testing.T) {
	cases := []struct {
		args  []string
		shows []string
	}{
		{[]string{"--help"}, []string{"usage: litewave COMMAND", "lookup", "post", "spool", "dev"}},
		{[]string{"help"}, []string{"usage: litewave COMMAND"}},
		{[]string{"lookup", "--help"}, []string{"usage: litewave lookup TENANT", "LITEWAVE_PORTAL_URL"}},
		{[]string{"post", "--help"}, []string{"usage: litewave post", "--tenant", "--device", "--meter", "--usage"}},
		{[]string{"spool", "--help"}, []string{"usage: litewave spool COMMAND", "inspect", "drain"}},
		{[]string{"spool", "inspect", "--help"}, []string{"usage: litewave spool inspect DIR", "a running exporter"}},
		{[]string{"spool", "drain", "--help"}, []string{"usage: litewave spool drain DIR", "--timeout duration", "(default 2m0s)"}},
		{[]string{"dev", "-h"}, []string{"usage: litewave dev", "--addr HOST:PORT", "(default 127.0.0.1:8080)", "--customer TENANT=ID", "--redpanda"}},
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

// A command line that does not parse exits 2, says what is wrong, and
// shows the command's usage on stderr.
func TestBadUsageExits2(t *testing.T) {
	cases := []struct {
		args []string
		says string
	}{
		{nil, "litewave: which command?"},
		{[]string{"frobnicate"}, `litewave: unknown command "frobnicate"`},
		{[]string{"lookup"}, "litewave: lookup: missing TENANT"},
		{[]string{"lookup", "acme", "extra"}, `litewave: lookup: unexpected argument "extra"`},
		{[]string{"post", "--tenant", "acme", "--meter", "pages"}, "litewave: post: missing --device, --usage"},
		{[]string{"post", "--tenant", "acme", "--device", "d", "--meter", "pages", "--usage", "-1"}, "litewave: post: --usage -1: want 0 or more units"},
		{[]string{"post", "--usage", "many"}, `litewave: post: invalid value "many" for flag -usage`},
		{[]string{"spool"}, "litewave: which command?"},
		{[]string{"spool", "inspect"}, "litewave: spool inspect: missing DIR"},
		{[]string{"spool", "drain", "/nonexistent", "--timeout", "soon"}, `litewave: spool drain: invalid value "soon" for flag -timeout`},
		{[]string{"dev", "--customer", "acme"}, `litewave: dev: invalid value "acme" for flag -customer: "acme" is not TENANT=ID`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			res := litewave(t, nil, c.args...)
			assert.Equal(t, 2, res.code)
			assert.Contains(t, res.stderr, c.says)
			assert.Contains(t, res.stderr, "usage: litewave")
			assert.Empty(t, res.stdout)
		})
	}
}
