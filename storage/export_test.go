package storage

// ErrStopForTest is errStop, for the external tests: it ends a Scan early.
var ErrStopForTest = errStop
