package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setAll sets every variable of the table to its example, but skip's.
func setAll(t *testing.T, skip *Setting) {
	for _, s := range Table {
		if s.Env == "" {
			continue
		}
		v := s.Example
		if s == skip {
			v = ""
		}
		t.Setenv(s.Env, v)
	}
}

// exported is c without where its settings came from, to compare values.
func exported(c Config) Config {
	c.source, c.envErrs = nil, nil
	return c
}

// Every variable's example is accepted with all the others, and takes
// effect: without it, the configuration is another.
func TestEveryVariableTakesEffect(t *testing.T) {
	setAll(t, nil)
	all, err := Load(nil)
	require.NoError(t, err, "every example at once")
	for _, s := range Table {
		if s.Env == "" {
			continue
		}
		t.Run(s.Env, func(t *testing.T) {
			require.NotEmpty(t, s.Example, "the table gives an example")
			setAll(t, s)
			without, err := Load(nil)
			if err == nil {
				assert.False(t, reflect.DeepEqual(exported(all), exported(without)), "%s=%s changes nothing", s.Env, s.Example)
			} else {
				assert.ErrorContains(t, err, "invalid configuration", "another variable needs %s", s.Env)
			}
		})
	}
}

// Every variable's wrong value is refused, the error naming the variable
// and never showing a secret.
func TestEveryWrongValueIsRefusedNamingItsVariable(t *testing.T) {
	refused := 0
	for _, s := range Table {
		if s.Wrong == "" {
			continue
		}
		refused++
		t.Run(s.Env, func(t *testing.T) {
			setAll(t, nil)
			t.Setenv(s.Env, s.Wrong)
			_, err := Load(nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), s.Env+"=")
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one error, this variable's: %v", err)
			if s.Show == Secret {
				assert.NotContains(t, err.Error(), strings.TrimSpace(s.Wrong))
			}
			_, err = Load([]Option{WithoutEnvironment})
			assert.NoError(t, err, "WithoutEnvironment ignores it")
		})
	}
	assert.Greater(t, refused, len(Table)/2)
}

// An option of the same setting overrides a variable that does not parse.
func TestAnOptionOverridesAVariableThatDoesNotParse(t *testing.T) {
	t.Setenv(Timeout.Env, "soon")
	_, err := Load(nil)
	require.ErrorContains(t, err, `LITEWAVE_TIMEOUT="soon": want milliseconds or a duration`)
	c, err := Load([]Option{Timeout.Given("1s", func(c *Config) { c.Timeout = 1e9 })})
	require.NoError(t, err)
	assert.Equal(t, "1s", c.Timeout.String())
}

// The defaults parse and pass every check; the documentation shows each.
func TestDefaultsAreValid(t *testing.T) {
	d := Defaults()
	assert.Equal(t, Endpoint.Default, d.Endpoint)
	assert.Equal(t, 64, d.Concurrency)
	assert.True(t, d.KafkaTransactions)
	assert.Equal(t, "usage-events.checkpoints", d.CheckpointTopic)
	for _, s := range Table {
		assert.NotEmpty(t, s.Option, "%s has an option", s.Env)
		assert.NotEmpty(t, s.Doc, "%s is described", s.Env)
	}
}
