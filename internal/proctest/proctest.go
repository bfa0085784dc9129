// Package proctest reads /proc for the tests that check no process is left
// behind (pluginhost's and bench run's fault tests): a process's state,
// parent and group, and the live processes of a group, of a parent, or
// carrying an environment mark. Zombies count as gone.
package proctest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Stat returns pid's state letter (R, S, T, Z, …), parent and process
// group; state is "" when the process is gone.
func Stat(pid int) (state string, ppid, pgrp int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0
	}
	// The fields after the ")" that ends the command name: state ppid pgrp …
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 3 {
		return "", 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	pgrp, _ = strconv.Atoi(f[2])
	return f[0], ppid, pgrp
}

// live lists the live (not zombie) processes for which keep is true.
func live(keep func(pid int, ppid, pgrp int) bool) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ppid, pgrp := Stat(pid); st != "" && st != "Z" && keep(pid, ppid, pgrp) {
			out = append(out, pid)
		}
	}
	return out
}

// GroupMembers lists the live processes of process group pgid.
func GroupMembers(pgid int) []int {
	return live(func(_, _, pgrp int) bool { return pgrp == pgid })
}

// Children lists the live processes whose parent is ppid.
func Children(ppid int) []int {
	return live(func(_, parent, _ int) bool { return parent == ppid })
}

// Marked lists the live processes whose environment holds the entry mark
// ("KEY=VALUE", matched whole).
func Marked(mark string) []int {
	return live(func(pid, _, _ int) bool {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		return err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00"+mark+"\x00"))
	})
}
