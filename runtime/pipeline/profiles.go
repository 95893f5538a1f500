package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/flamingock/flamingock-go/audit"
)

// WithProfiles makes names the runner's active profiles: the runner then
// runs, besides every change that declares no profile, the changes whose
// profiles match (see the package documentation, "Profiles"). A name is
// ASCII letters, digits, '-' and '_', at most 64 bytes, compared
// case-sensitively; '!' is for a change's declaration, not a runner's.
// Repeated names count once; WithProfiles given more than once adds the
// names of each. WithProfiles() with no name is no option: a runner
// without active profiles runs only the changes that declare none.
func WithProfiles(names ...string) Option {
	return optionFunc(func(c *config) error {
		for _, n := range names {
			if !validProfile(n) {
				if bare, neg := strings.CutPrefix(n, "!"); neg && validProfile(bare) {
					return fmt.Errorf("WithProfiles: invalid profile %q: a runner's profiles are names; '!' excludes a profile in a change's profile= only", n)
				}
				return fmt.Errorf("WithProfiles: invalid profile %q: %s", n, profileRule)
			}
		}
		c.profiles = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(c.profiles), names...))))
		return nil
	})
}

// maxProfileLen and profileRule are those of package annotations, which
// the runtime does not import.
const (
	maxProfileLen = 64
	profileRule   = "a profile name is ASCII letters, digits, '-' and '_', at most 64 bytes"
)

// validProfile reports whether name is a profile name: [A-Za-z0-9_-]{1,64}.
func validProfile(name string) bool {
	if name == "" || len(name) > maxProfileLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// profilesProblem says what is wrong with the profiles a Meta declares
// (the rules of profile=), or "".
func profilesProblem(profiles []string) string {
	seen := make(map[string]string, len(profiles))
	for _, p := range profiles {
		bare, _ := strings.CutPrefix(p, "!")
		switch first, dup := seen[bare]; {
		case !validProfile(bare):
			return fmt.Sprintf("invalid profile %q: %s, optionally after one '!'", p, profileRule)
		case dup && first == p:
			return fmt.Sprintf("profile %q is listed twice", p)
		case dup:
			return fmt.Sprintf("profile %q contradicts %q", p, first)
		}
		seen[bare] = p
	}
	return ""
}

// runsUnder reports whether a change that declares profiles runs on a
// runner whose active profiles are active (sorted): always without
// profiles; otherwise only with active profiles, when one of its plain
// names is active (or it has none) and none of its '!' names is.
func runsUnder(profiles, active []string) bool {
	if len(profiles) == 0 {
		return true
	}
	if len(active) == 0 {
		return false
	}
	plain, hit := false, false
	for _, p := range profiles {
		if bare, neg := strings.CutPrefix(p, "!"); neg {
			if _, found := slices.BinarySearch(active, bare); found {
				return false
			}
			continue
		}
		plain = true
		if _, found := slices.BinarySearch(active, p); found {
			hit = true
		}
	}
	return !plain || hit
}

// excluded reports whether the runner leaves c out for its profiles.
func (r *Runner) excluded(m Meta) bool { return !runsUnder(m.Profiles, r.cfg.profiles) }

// activeProfiles describes the runner's active profiles, for reasons.
func (r *Runner) activeProfiles() string {
	if len(r.cfg.profiles) == 0 {
		return "the runner has no active profile (WithProfiles)"
	}
	return "the runner's profiles are " + strings.Join(r.cfg.profiles, ",")
}

// excludedReason is the reason of a change excluded by profile, from its
// latest entry: a change applied before (under other profiles) stays
// applied, and the reason says so.
func (r *Runner) excludedReason(m Meta, latest *audit.Entry) string {
	why := r.excludedWhy(m)
	switch {
	case latest == nil:
		return why + "; never applied"
	case audit.Assess(*latest).Verdict == audit.VerdictDone:
		under := ""
		if ps := entryProfiles(*latest); len(ps) > 0 {
			under = " under profiles " + strings.Join(ps, ",")
		}
		return fmt.Sprintf("%s; applied%s (%s at %s), it stays applied", why, under, latest.State, latest.Time.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return fmt.Sprintf("%s; its latest state, %s, is for a runner with its profile to resolve", why, latest.State)
}

// excludedWhy says why the runner excludes m, without what the trail
// holds of it.
func (r *Runner) excludedWhy(m Meta) string {
	return fmt.Sprintf("excluded by profile: the change declares profile=%s and %s", strings.Join(m.Profiles, ","), r.activeProfiles())
}

// entryProfiles returns the profiles recorded in e's metadata (see
// audit.MetadataProfiles), or nil.
func entryProfiles(e audit.Entry) []string {
	if len(e.Metadata) == 0 {
		return nil
	}
	var m struct {
		P []string `json:"profiles"`
	}
	if json.Unmarshal(e.Metadata, &m) != nil {
		return nil
	}
	return m.P
}

// withProfiles returns metadata (empty or a JSON object) with the runner's
// active profiles recorded under audit.MetadataProfiles; metadata as it is
// when the runner has none, or when it is not a JSON object.
func (r *Runner) withProfiles(metadata json.RawMessage) json.RawMessage {
	if len(r.cfg.profiles) == 0 {
		return metadata
	}
	obj := map[string]json.RawMessage{}
	if len(metadata) > 0 {
		if err := json.Unmarshal(metadata, &obj); err != nil || obj == nil {
			return metadata
		}
	}
	v, err := json.Marshal(r.cfg.profiles)
	if err != nil {
		return metadata
	}
	obj[audit.MetadataProfiles] = v
	out, err := json.Marshal(obj)
	if err != nil {
		return metadata
	}
	return out
}
