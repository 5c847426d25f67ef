package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

// cpuSample is the CPU time used so far by the processes the warm runs on, and the time the
// hypervisor gave the machine's CPUs to other guests (steal) out of all CPU time.
type cpuSample struct {
	Postgres, Redis, Workers time.Duration
	Steal, Total             time.Duration
}

func (a cpuSample) sub(b cpuSample) cpuSample {
	return cpuSample{Postgres: a.Postgres - b.Postgres, Redis: a.Redis - b.Redis, Workers: a.Workers - b.Workers,
		Steal: a.Steal - b.Steal, Total: a.Total - b.Total}
}

// stealShare is the share of the machine's CPU time the hypervisor gave to other guests: on a
// shared host it varies from minute to minute, and with it every time this benchmark reports.
func (a cpuSample) stealShare() float64 {
	if a.Total <= 0 {
		return 0
	}
	return float64(a.Steal) / float64(a.Total)
}

// sampleCPU reads user+system CPU time of every postgres process, of the Redis server (its
// pid from INFO, when it runs on this machine) and of the worker processes.
func sampleCPU(ctx context.Context, rdb *redis.Client, workers []*process) cpuSample {
	var s cpuSample
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, cpu, ok := procCPU(pid); ok && comm == "postgres" {
			s.Postgres += cpu
		}
	}
	s.Redis = redisCPU(ctx, rdb)
	for _, p := range workers {
		_, cpu, _ := procCPU(p.cmd.Process.Pid)
		s.Workers += cpu
	}
	s.Steal, s.Total = machineCPU()
	return s
}

// redisCPU reads the user+system CPU time of the Redis server rdb talks to, when it runs on
// this machine (its pid from INFO); zero otherwise.
func redisCPU(ctx context.Context, rdb *redis.Client) time.Duration {
	pid, err := strconv.Atoi(infoField(rdb.Info(ctx, "server").Val(), "process_id"))
	if err != nil {
		return 0
	}
	_, cpu, _ := procCPU(pid)
	return cpu
}

// machineCPU reads the steal and total time of all CPUs from /proc/stat's first line
// ("cpu user nice system idle iowait irq softirq steal ...").
func machineCPU() (steal, total time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0
	}
	var ticks [8]int64
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(fields[i+1], 10, 64)
	}
	var sum int64
	for _, t := range ticks {
		sum += t
	}
	d := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return d(ticks[7]), d(sum)
}

func procCPU(pid int) (string, time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	text := string(b)
	open, end := strings.IndexByte(text, '('), strings.LastIndexByte(text, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	fields := strings.Fields(text[end+1:])
	if len(fields) < 13 {
		return "", 0, false
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return text[open+1 : end], time.Duration(utime+stime) * time.Second / clockTicks, true
}

func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
