package pipeline

// storeArgs are the flamingock CLI flags that reach this pipeline's audit
// trail and lock, for the resolution commands issues print: a pasted
// command must act on the same tables and the same lock key. They are the
// store's audit.Locator (its URL, schema and table prefix), its URL
// replaced by WithStoreURL when given, rendered by Locator.Args.
func (r *Runner) storeArgs() []string {
	loc := r.caps.Locator()
	if r.cfg.storeURL != "" {
		loc.URL = r.cfg.storeURL
	}
	return loc.Args(r.cfg.lockKey)
}
