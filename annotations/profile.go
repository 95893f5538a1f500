package annotations

import (
	"fmt"
	"strings"
)

// MaxProfileLen bounds a profile name, in bytes.
const MaxProfileLen = 64

// ProfileRule states the charset of profile names (see ValidProfile), as
// error messages say it.
const ProfileRule = "a profile name is ASCII letters, digits, '-' and '_', at most 64 bytes"

// ValidProfile reports whether name is a valid profile name, without '!':
// [A-Za-z0-9_-]{1,64}.
func ValidProfile(name string) bool {
	if name == "" || len(name) > MaxProfileLen {
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

// ProfileError is one problem of a profile= value, at byte Offset of the
// value.
type ProfileError struct {
	Offset int
	Msg    string
}

// ParseProfiles parses the value of a profile= attribute ("dev,test",
// "!prod") and returns its names as written, a negated one with its '!',
// and every problem, each at the byte offset in value of the name it
// concerns. The names are returned even with problems, without the bad ones.
func ParseProfiles(value string) ([]string, []ProfileError) {
	var (
		names []string
		errs  []ProfileError
		seen  = map[string]string{} // bare name -> as first written
	)
	off := 0
	for _, item := range strings.Split(value, ",") {
		at := off
		off += len(item) + 1
		bare, _ := strings.CutPrefix(item, "!")
		switch {
		case item == "":
			errs = append(errs, ProfileError{at, fmt.Sprintf("empty profile name in %q: write names separated by single commas, as in profile=dev,test", value)})
			continue
		case bare == "":
			errs = append(errs, ProfileError{at, `"!" names no profile: write !NAME to exclude a profile, as in profile=!prod`})
			continue
		case strings.HasPrefix(bare, "!"):
			errs = append(errs, ProfileError{at, fmt.Sprintf("invalid profile %q: write one '!' before a name to exclude it", item)})
			continue
		case !ValidProfile(bare):
			errs = append(errs, ProfileError{at, fmt.Sprintf("invalid profile %q: %s", item, ProfileRule)})
			continue
		}
		if first, dup := seen[bare]; dup {
			if first == item {
				errs = append(errs, ProfileError{at, fmt.Sprintf("profile %q is listed twice", item)})
			} else {
				errs = append(errs, ProfileError{at, fmt.Sprintf("profile %q contradicts %q: a change cannot both belong to a profile and be excluded from it", item, first)})
			}
			continue
		}
		seen[bare] = item
		names = append(names, item)
	}
	return names, errs
}

// profileErrors returns the problems of a profile= value.
func profileErrors(value string) []ProfileError {
	_, errs := ParseProfiles(value)
	return errs
}
