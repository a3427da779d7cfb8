package postgres

import "syscall"

// lowerThreadPriority sets the calling OS thread's nice value (Linux
// priorities are per thread; 0 or less: left as it is). Best effort: a
// refusal leaves it as it was.
func lowerThreadPriority(nice int) {
	if nice > 0 {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
	}
}
