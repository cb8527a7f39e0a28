package main

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux builds).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU time (user and system) process pid has used so far,
// or 0 when it cannot be read (another OS, or a server not started here).
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	// f[0] is the state (field 3); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * clockTick
}

// cpuMeter measures how many cores the server's processes together, and
// this load generator, used over a window.
type cpuMeter struct {
	pids        []int
	at          time.Time
	server, gen time.Duration
}

func startCPU(pids []int) cpuMeter {
	return cpuMeter{pids: pids, at: time.Now(), server: cpuTimes(pids), gen: cpuTime(os.Getpid())}
}

func cpuTimes(pids []int) time.Duration {
	var t time.Duration
	for _, p := range pids {
		t += cpuTime(p)
	}
	return t
}

// cores returns the cores the server and this load generator used since
// the start (the server's is 0 when unknown).
func (m cpuMeter) cores() (server, gen float64) {
	d := time.Since(m.at).Seconds()
	if len(m.pids) > 0 {
		server = (cpuTimes(m.pids) - m.server).Seconds() / d
	}
	return server, (cpuTime(os.Getpid()) - m.gen).Seconds() / d
}
