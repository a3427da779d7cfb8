package postgres

import "syscall"

// fuzzyNice is the nice value of a scan's comparing threads: the kernel
// then runs the API's threads and PostgreSQL's backends first when they
// want the cores, and the scan whenever they do not.
const fuzzyNice = 10

// lowerThreadPriority lowers the calling OS thread's priority (Linux
// priorities are per thread). Best effort: a refusal leaves it as it was.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), fuzzyNice)
}
