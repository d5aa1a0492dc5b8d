package app

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// envDefaults reads the environment fallbacks of flags. A variable that is set
// but does not parse as its flag's type is an error that stops the start (see
// err), never a silent fall back to the default: POLICYGRAPH_SYNC=flase must
// not start a server that syncs, nor POLICYGRAPH_TIMEOUT=5 one with the default
// timeout. An empty variable counts as unset.
type envDefaults struct {
	getenv func(string) string
	errs   []error
}

func (e *envDefaults) bad(name, val, want string) {
	e.errs = append(e.errs, fmt.Errorf("environment variable %s=%q is not %s", name, val, want))
}

func (e *envDefaults) string(name, def string) string { return envOr(e.getenv, name, def) }

func (e *envDefaults) int(name string, def int) int {
	return envValue(e, name, def, strconv.Atoi, "an integer")
}

func (e *envDefaults) int64(name string, def int64) int64 {
	return envValue(e, name, def, func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }, "an integer")
}

func (e *envDefaults) bool(name string, def bool) bool {
	return envValue(e, name, def, strconv.ParseBool, "a boolean (true or false)")
}

func (e *envDefaults) duration(name string, def time.Duration) time.Duration {
	return envValue(e, name, def, time.ParseDuration, "a duration with a unit (such as 5s or 100ms)")
}

func (e *envDefaults) logLevel(name string, def logLevel) logLevel {
	return envValue(e, name, def, parseLogLevel, "a log level (debug, info, warn or error)")
}

// envValue is the variable name parsed, def when it is unset; a value that
// does not parse is recorded as want, not met, and def returned.
func envValue[T any](e *envDefaults, name string, def T, parse func(string) (T, error), want string) T {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		e.bad(name, v, want)
		return def
	}
	return x
}

// err is every malformed variable read so far, or nil.
func (e *envDefaults) err() error { return errors.Join(e.errs...) }
