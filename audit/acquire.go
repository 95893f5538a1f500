package audit

import (
	"errors"
	"fmt"
	"time"
)

// CheckAcquire reports why Store.Acquire cannot take key for owner for
// ttl: an empty key or owner, or a ttl under a millisecond, which no store
// can keep. Stores call it first, so that every store refuses the same
// requests in the same words.
func CheckAcquire(key, owner string, ttl time.Duration) error {
	switch {
	case key == "":
		return errors.New("acquire lock: empty key")
	case owner == "":
		return fmt.Errorf("acquire lock %q: empty owner", key)
	case ttl < time.Millisecond:
		return fmt.Errorf("acquire lock %q: ttl %s is under a millisecond", key, ttl)
	}
	return nil
}
