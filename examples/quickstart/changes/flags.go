package changes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Flags is a feature-flag file: a JSON object of flag names to booleans. It
// stands for any system without transactions (a flag service, a Kafka
// topic, a bucket): a change to it is guarded by STARTED/APPLIED entries
// instead of a transaction.
type Flags struct {
	Path string
}

// Set turns flag name on or off, replacing the file atomically.
func (f *Flags) Set(name string, on bool) error {
	flags := map[string]bool{}
	b, err := os.ReadFile(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &flags); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	flags[name] = on
	b, err = json.MarshalIndent(flags, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".flags-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.Path)
}

//flamingock:change id=enable-signup order=3 target=flags author=quickstart rollback=DisableSignup
func EnableSignup(ctx context.Context, f *Flags) error {
	return f.Set("self-signup", true)
}

// DisableSignup undoes EnableSignup.
func DisableSignup(ctx context.Context, f *Flags) error {
	return f.Set("self-signup", false)
}
