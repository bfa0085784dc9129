package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/siambench/siambench/atomicfile"
)

// A results directory is shared state: several bench processes, on one
// machine or on the nodes of a cluster over a network file system, may work
// on it at once. Each run is claimed before it is trained, by two means:
//
//   - an flock on runs/ID/.claim.lock, held while the run trains. It dies with
//     the process (even on SIGKILL) and, on NFSv4, with the node's lease;
//   - runs/ID/claim.json, naming the holder (host, pid, Slurm job) with a
//     heartbeat refreshed every ClaimHeartbeat. It is what makes a claim
//     visible across nodes whose file system does not share flocks. A claim
//     whose heartbeat is older than ClaimStale is stale: its node died, and
//     the next attempt takes the run over (resuming from its checkpoint).
//
// A live claim makes Claim return ErrClaimed: the run is not started twice.

// ClaimHeartbeat is how often a held claim is refreshed; ClaimStale is the
// age after which a claim held on another host is taken over.
var (
	ClaimHeartbeat = 20 * time.Second
	ClaimStale     = 2 * time.Minute
)

// ErrClaimed is returned by Claim when a live process holds the run.
var ErrClaimed = errors.New("run is being trained by another bench process")

// ClaimInfo is the content of claim.json.
type ClaimInfo struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	SlurmJob  string    `json:"slurm_job,omitempty"`
	Since     time.Time `json:"since"`
	Heartbeat time.Time `json:"heartbeat"`
}

const claimFile, claimLock = "claim.json", ".claim.lock"

// ReadClaim returns the run's claim; ok is false when nobody claims it.
func (s *Store) ReadClaim(id string) (ci ClaimInfo, ok bool) {
	b, err := os.ReadFile(s.runFile(id, claimFile))
	if err != nil || json.Unmarshal(b, &ci) != nil {
		return ci, false
	}
	return ci, true
}

// Live reports whether the claim's holder is alive as far as this process
// can tell: on this host, its pid exists; elsewhere, its heartbeat is fresh.
func (ci ClaimInfo) Live(now time.Time) bool {
	host, _ := os.Hostname()
	if ci.Host == host {
		err := syscall.Kill(ci.PID, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	return now.Sub(ci.Heartbeat) < ClaimStale
}

// Claim takes run id for this process, or returns ErrClaimed (wrapped, with
// the holder) when a live process holds it. release gives the claim up; it
// must be called once the run's work (or the attempt) ends.
func (s *Store) Claim(id string) (release func(), err error) {
	dir := s.RunDir(id)
	if err := os.MkdirAll(dir, atomicfile.DirMode); err != nil {
		return nil, fmt.Errorf("claim run %s: %w", id, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, claimLock), os.O_CREATE|os.O_RDWR, atomicfile.FileMode)
	if err != nil {
		return nil, fmt.Errorf("claim run %s: %w", id, err)
	}
	held := func() error {
		ci, _ := s.ReadClaim(id)
		return fmt.Errorf("%w (host %s, pid %d, since %s)", ErrClaimed, ci.Host, ci.PID, ci.Since.Format(time.RFC3339))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, held()
	}
	now := time.Now().UTC()
	if ci, ok := s.ReadClaim(id); ok && ci.Live(now) {
		host, _ := os.Hostname()
		if ci.Host != host || ci.PID != os.Getpid() {
			f.Close()
			return nil, held()
		}
	}
	host, _ := os.Hostname()
	me := ClaimInfo{Host: host, PID: os.Getpid(), SlurmJob: slurmJobID(), Since: now, Heartbeat: now}
	if err := s.writeClaim(id, me); err != nil {
		f.Close()
		return nil, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ClaimHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				me.Heartbeat = time.Now().UTC()
				_ = s.writeClaim(id, me)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		os.Remove(s.runFile(id, claimFile))
		f.Close() // releases the flock
	}, nil
}

func (s *Store) writeClaim(id string, ci ClaimInfo) error {
	b, _ := json.Marshal(ci)
	return atomicfile.WriteFile(s.runFile(id, claimFile), append(b, '\n'))
}

// slurmJobID names the Slurm job (array job_task) this process runs in, or "".
func slurmJobID() string {
	if a, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		return a + "_" + t
	}
	return os.Getenv("SLURM_JOB_ID")
}
