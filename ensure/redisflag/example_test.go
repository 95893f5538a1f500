package redisflag_test

import (
	"context"
	"fmt"
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/flamingock/flamingock-go/ensure/redisflag"
)

// CheckoutV2 is a change that moves the checkout flag from v1 to v2. Run
// again, it finds v2 and writes nothing, so it may declare recovery=retry.
//
//flamingock:change id=checkout-v2 order=5 target=flags recovery=retry rollback=CheckoutV1
func CheckoutV2(ctx context.Context, rdb *redis.Client) error {
	_, err := redisflag.Set(ctx, rdb, "flag:checkout", redisflag.Of("v1"), redisflag.Of("v2"))
	return err
}

// CheckoutV1 is the rollback of CheckoutV2.
func CheckoutV1(ctx context.Context, rdb *redis.Client) error {
	_, err := redisflag.Set(ctx, rdb, "flag:checkout", redisflag.Of("v2"), redisflag.Of("v1"))
	return err
}

// A change and its rollback, each one compare-and-set. (Not run: it needs a
// Redis server.)
func ExampleSet() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	if err := CheckoutV2(context.Background(), rdb); err != nil {
		log.Fatal(err)
	}
}

// Creating a flag, or verifying that it holds what it should. (Not run: it
// needs a Redis server.)
func ExampleEnsure() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	outcome, err := redisflag.Ensure(context.Background(), rdb, "flag:search", "on")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(outcome) // "created" the first time, "unchanged" after
}
