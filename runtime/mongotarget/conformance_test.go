package mongotarget_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/flamingock/flamingock-go/audit"
	auditmongo "github.com/flamingock/flamingock-go/audit/mongo"
	"github.com/flamingock/flamingock-go/internal/testenv"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/targettest"
)

// TestConformance runs the conformance suite of targets against the
// MongoDB target built by Detect: it claims SeparateTx for transactional
// changes on a server with transactions (a replica set), NonTx on one
// without (a standalone server, FerretDB), and NonTx for changes declared
// transactional=false.
func TestConformance(t *testing.T) {
	uri := testenv.Mongo(t) // skips without MongoDB
	probe := connect(t, uri, nil)
	tg, err := mongotarget.Detect(t.Context(), probe.Database("admin"), mongotarget.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := tg.Transactions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	transactional := audit.StrategyNonTx
	if tx.Supported {
		transactional = audit.StrategySeparateTx
	}
	t.Logf("the server: transactions %v (%s): transactional changes claim %s", tx.Supported, tx.Reason, transactional)

	targettest.Run(t, targettest.Harness[*mongo.Database]{
		New: func(t *testing.T) targettest.Fixture[*mongo.Database] {
			ctx := t.Context()
			client := connect(t, uri, nil)
			var b [6]byte
			if _, err := rand.Read(b[:]); err != nil {
				t.Fatal(err)
			}
			// FerretDB accepts only letters, digits, "_" and "-" in database names.
			name := "tt_conf_" + hex.EncodeToString(b[:])
			db := client.Database(name)
			t.Cleanup(func() {
				// t.Context is done during cleanup.
				if err := db.Drop(context.Background()); err != nil {
					t.Errorf("drop database %s: %v", name, err)
				}
			})
			store, err := auditmongo.New(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })

			// The target is on a second client, so that Disconnect cuts it
			// and it only.
			targetClient := connect(t, uri, nil)
			tg, err := mongotarget.Detect(ctx, targetClient.Database(name), mongotarget.WithLogger(quiet()))
			if err != nil {
				t.Fatal(err)
			}
			effects := db.Collection("effects")
			return targettest.Fixture[*mongo.Database]{
				Target: tg,
				Store:  store,
				Apply: func(ctx context.Context, h *mongo.Database, id string) error {
					_, err := h.Collection("effects").InsertOne(ctx, bson.D{{Key: "_id", Value: id}})
					return err
				},
				Undo: func(ctx context.Context, h *mongo.Database, id string) error {
					_, err := h.Collection("effects").DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
					return err
				},
				Has: func(ctx context.Context, id string) (bool, error) {
					n, err := effects.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
					return n > 0, err
				},
				Disconnect: func() { targetClient.Disconnect(context.Background()) },
			}
		},
		Transactional:    transactional,
		NonTransactional: audit.StrategyNonTx,
	})
}
