//go:build !linux

package postgres

// lowerThreadPriority is a no-op where priorities are per process.
func lowerThreadPriority(int) {}
