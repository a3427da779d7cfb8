package telemetry

// SetEnabled turns instrumentation on or off for what is built next, so a
// benchmark compares both in one run.
func SetEnabled(on bool) { enabled.Store(on) }
