// Package atomicfile writes files so that a reader, a crash or a kill sees
// either the old content or the new, never a torn file: the data goes to a
// temporary file in the same directory, which is synced, given mode 0644
// and renamed over the destination. Result, report, checkpoint and dataset
// manifest files are all written through it, so they are readable by a
// colleague or a job running as another user on a shared file system.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FileMode is the mode of every file written here; DirMode that of the
// directories WriteFile and Write create (both before the umask for
// directories; files get exactly FileMode).
const (
	FileMode os.FileMode = 0o644
	DirMode  os.FileMode = 0o755
)

// WriteFile writes data to path atomically, creating path's directory
// (DirMode) when missing.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write creates path atomically from what fill writes. If fill or any step
// fails, path is left as it was and the temporary file is removed; the
// error names path.
func Write(path string, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(FileMode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	// The rename is durable once the directory entry is; a failure to sync
	// the directory (some file systems refuse) does not undo the write.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
