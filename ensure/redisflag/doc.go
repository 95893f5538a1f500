// Package redisflag sets flags held in Redis string keys by compare-and-set,
// so that a change that flips a flag can be run again safely.
//
// A flag is a string key. Set moves it from one declared Value to another,
// Ensure creates it or verifies it; each call runs one Lua script, so the
// comparison and the write are one atomic step on the server and no other
// client can slip a write between them. What the script found decides the
// outcome:
//
//	found to         -> ensure.Unchanged, nothing written (a retry ends here)
//	found from       -> written: ensure.Created (from Absent), ensure.Deleted
//	                    (to Absent), ensure.Updated otherwise
//	found other      -> *ensure.ConflictError, nothing written
//	not a string key -> an error matching ErrWrongType, nothing written
//
// A Value is either a string, empty included (Of("")), or Absent, the zero
// Value: a key that does not exist. An update keeps the key's time to live
// (SET KEEPTTL, Redis 6.0 or later): a flag's expiry is not the change's to
// reset.
//
// # Retry safety
//
// A change may declare recovery=retry only if running it again after it ran
// partly or fully gives the same end state and no extra effect. A change made
// of these helpers does: a retry that finds the flag already at `to` writes
// nothing, and one that finds a value nobody declared stops with a conflict
// instead of overwriting it. Appending commands (INCRBY, LPUSH, PUBLISH) are
// not retry-safe: a retry repeats them, and after a crash only a person can
// say whether they happened; such a change stays recovery=manual.
//
// A change and its rollback, each one call:
//
//	//flamingock:change id=checkout-v2 order=5 target=flags recovery=retry rollback=CheckoutV1
//	func CheckoutV2(ctx context.Context, rdb *redis.Client) error {
//		_, err := redisflag.Set(ctx, rdb, "flag:checkout", redisflag.Of("v1"), redisflag.Of("v2"))
//		return err
//	}
//
//	func CheckoutV1(ctx context.Context, rdb *redis.Client) error {
//		_, err := redisflag.Set(ctx, rdb, "flag:checkout", redisflag.Of("v2"), redisflag.Of("v1"))
//		return err
//	}
package redisflag
