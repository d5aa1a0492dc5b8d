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

func (e *envDefaults) string(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func (e *envDefaults) int(name string, def int) int {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.bad(name, v, "an integer")
		return def
	}
	return n
}

func (e *envDefaults) int64(name string, def int64) int64 {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		e.bad(name, v, "an integer")
		return def
	}
	return n
}

func (e *envDefaults) bool(name string, def bool) bool {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.bad(name, v, "a boolean (true or false)")
		return def
	}
	return b
}

func (e *envDefaults) duration(name string, def time.Duration) time.Duration {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.bad(name, v, "a duration with a unit (such as 5s or 100ms)")
		return def
	}
	return d
}

// err is every malformed variable read so far, or nil.
func (e *envDefaults) err() error { return errors.Join(e.errs...) }
