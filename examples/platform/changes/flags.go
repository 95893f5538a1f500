package changes

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/ensure/redisflag"
)

// EnableCheckoutV2 is retry-safe: redisflag.Set moves the flag from absent
// to "on" in one script on the server, finds it "on" already on a retry,
// and refuses any other value (someone turned it "off" by hand) instead of
// overwriting it.
//
//flamingock:change id=checkout-v2-flag order=5 target=flags author=platform recovery=retry rollback=DisableCheckoutV2
func EnableCheckoutV2(ctx context.Context, rdb *redis.Client, n Names) error {
	_, err := redisflag.Set(ctx, rdb, n.Flag(), redisflag.Absent, redisflag.Of("on"))
	return err
}

// DisableCheckoutV2 undoes EnableCheckoutV2: back to absent.
func DisableCheckoutV2(ctx context.Context, rdb *redis.Client, n Names) error {
	_, err := redisflag.Set(ctx, rdb, n.Flag(), redisflag.Of("on"), redisflag.Absent)
	return err
}

// Grant is the credits GrantCredits gives a tenant.
type Grant struct {
	Tenant  string
	Credits int64
}

// Grants are the welcome credits GrantCredits gives, one Grant per tenant.
func Grants() []Grant {
	return []Grant{{"acme", 100}, {"globex", 50}}
}

// GrantCredits adds each tenant's welcome credits to its balance. It stays
// recovery=manual: INCRBY is an append, not a state. Run again, it grants
// twice, and after a crash between STARTED and APPLIED only a person who
// reads the balances (and knows what they were) can tell which tenants got
// their credits. Before `flamingock audit fix`, the operator compares each
// credits:TENANT key with the balance before the change, and completes or
// takes back the grants by hand.
//
//flamingock:change id=grant-credits order=8 target=flags author=platform rollback=RevokeCredits
func GrantCredits(ctx context.Context, rdb *redis.Client, n Names) error {
	for _, g := range Grants() {
		if err := rdb.IncrBy(ctx, n.Credits(g.Tenant), g.Credits).Err(); err != nil {
			return fmt.Errorf("grant %d credits to %s: %w", g.Credits, g.Tenant, err)
		}
	}
	return nil
}

// RevokeCredits undoes GrantCredits, with the same caveat: a retry would
// take the credits twice.
func RevokeCredits(ctx context.Context, rdb *redis.Client, n Names) error {
	for _, g := range Grants() {
		if err := rdb.DecrBy(ctx, n.Credits(g.Tenant), g.Credits).Err(); err != nil {
			return fmt.Errorf("revoke %d credits of %s: %w", g.Credits, g.Tenant, err)
		}
	}
	return nil
}
