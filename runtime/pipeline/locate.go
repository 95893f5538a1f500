package pipeline

import (
	"fmt"
	"net/url"
)

// storeURL is the --store value of the resolution commands.
func (r *Runner) storeURL() string {
	s := r.cfg.storeURL
	if s == "" {
		st, ok := r.store.(fmt.Stringer)
		if !ok {
			return "STORE_URL"
		}
		s = st.String()
	}
	if u, err := url.Parse(s); err == nil && u.User != nil {
		s = u.Redacted()
	}
	return s
}

// cliFlagger is implemented by stores whose options the flamingock CLI
// must be given to find the same tables (a schema, a table prefix).
type cliFlagger interface {
	CLIFlags() []string
}

// storeArgs are the flamingock CLI flags that reach this pipeline's audit
// trail and lock, for the resolution commands issues print: a pasted
// command must act on the same tables and the same lock key.
func (r *Runner) storeArgs() []string {
	args := []string{"--store", r.storeURL()}
	if f, ok := r.store.(cliFlagger); ok {
		args = append(args, f.CLIFlags()...)
	}
	if r.cfg.lockKey != defaultConfig().lockKey {
		args = append(args, "--lock-key", r.cfg.lockKey)
	}
	return args
}
