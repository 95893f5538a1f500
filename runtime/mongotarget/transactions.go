package mongotarget

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Transactions is what a target's server said, in its hello answer, about
// multi-document transactions.
type Transactions struct {
	// Supported reports whether the server runs multi-document
	// transactions: a replica set member (hello reports setName) of
	// MongoDB 4.0 or later, or a mongos (hello's msg is "isdbgrid") of
	// MongoDB 4.2 or later, that has sessions (hello reports
	// logicalSessionTimeoutMinutes). A standalone server has none.
	Supported bool
	// Reason explains Supported from the hello answer.
	Reason string
}

// The wire versions of the first MongoDB releases with transactions.
const (
	wireReplicaSetTx = 7 // MongoDB 4.0
	wireShardedTx    = 8 // MongoDB 4.2
)

// Transactions asks the target's server (the primary) whether it runs
// multi-document transactions. The first answer is kept, and logged, for
// the life of the target: Detect builds a target from it, and
// BeginSeparate refuses a transaction on a server without them. A
// failure to ask is returned, not kept.
func (t *Target) Transactions(ctx context.Context) (Transactions, error) {
	if t.err != nil {
		return Transactions{}, t.err
	}
	if tx := t.known(); tx != nil {
		return *tx, nil
	}
	var h hello
	err := t.db.RunCommand(ctx, bson.D{{Key: "hello", Value: 1}},
		options.RunCmd().SetReadPreference(readpref.Primary())).Decode(&h)
	if err != nil {
		return Transactions{}, fmt.Errorf("mongotarget: ask the server of database %q whether it has transactions (hello): %w", t.db.Name(), err)
	}
	tx := h.transactions()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.server != nil { // another caller asked meanwhile
		return *t.server, nil
	}
	t.server = &tx
	if tx.Supported {
		t.log.Info("mongotarget: the server has transactions: a transactional change runs in a session transaction with a marker",
			"database", t.db.Name(), "why", tx.Reason)
	} else {
		t.log.Warn("mongotarget: the server has no transactions: every change runs without one, between a STARTED and an APPLIED entry",
			"database", t.db.Name(), "why", tx.Reason)
	}
	return tx, nil
}

// known returns the kept answer, nil before the server was asked.
func (t *Target) known() *Transactions {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.server
}

// hello is the part of a hello answer that tells about transactions.
type hello struct {
	SetName        string `bson:"setName"`
	Msg            string `bson:"msg"`
	MaxWireVersion int32  `bson:"maxWireVersion"`
	// SessionMinutes is absent on a server without sessions.
	SessionMinutes *int64 `bson:"logicalSessionTimeoutMinutes"`
}

func (h hello) transactions() Transactions {
	var (
		where   string
		need    int32  // the wire version transactions need there
		release string // the MongoDB release of that wire version
	)
	switch {
	case h.SetName != "":
		where, need, release = fmt.Sprintf("a member of replica set %q (hello setName)", h.SetName), wireReplicaSetTx, "4.0"
	case h.Msg == "isdbgrid":
		where, need, release = `a mongos (hello msg "isdbgrid")`, wireShardedTx, "4.2"
	default:
		return Transactions{Reason: `a standalone server: hello reports no setName and no msg "isdbgrid", ` +
			"and MongoDB runs transactions on replica sets and sharded clusters only"}
	}
	switch {
	case h.SessionMinutes == nil:
		return Transactions{Reason: where + ", but without sessions (hello reports no logicalSessionTimeoutMinutes), which transactions need"}
	case h.MaxWireVersion < need:
		return Transactions{Reason: fmt.Sprintf("%s, but of wire version %d: transactions there need wire version %d (MongoDB %s)",
			where, h.MaxWireVersion, need, release)}
	}
	return Transactions{Supported: true, Reason: fmt.Sprintf("%s, wire version %d, with sessions", where, h.MaxWireVersion)}
}
