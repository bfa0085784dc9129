package pluginhost

import "syscall"

// procAttr starts a plugin in a process group of its own (its pid is the
// group id), so that Kill can end it together with any children it left
// behind, and so that a Ctrl-C on the terminal reaches bench only (bench
// decides what happens to its plugins). Pdeathsig makes the kernel SIGKILL
// the plugin when the thread that started it dies, so a host killed
// without cleanup does not leave plugins behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
