package mongotarget

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestHelloTellsWhetherTheServerHasTransactions(t *testing.T) {
	tests := []struct {
		name  string
		hello bson.D
		want  Transactions
	}{
		{
			name:  "a standalone server has none, whatever its version (FerretDB answers so)",
			hello: bson.D{{Key: "isWritablePrimary", Value: true}, {Key: "maxWireVersion", Value: int32(21)}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}},
			want: Transactions{Reason: `a standalone server: hello reports no setName and no msg "isdbgrid", ` +
				"and MongoDB runs transactions on replica sets and sharded clusters only"},
		},
		{
			name:  "a replica set member of MongoDB 4.0 or later has them",
			hello: bson.D{{Key: "setName", Value: "rs0"}, {Key: "maxWireVersion", Value: int32(7)}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}},
			want:  Transactions{Supported: true, Reason: `a member of replica set "rs0" (hello setName), wire version 7, with sessions`},
		},
		{
			name:  "a replica set member before MongoDB 4.0 has none",
			hello: bson.D{{Key: "setName", Value: "rs0"}, {Key: "maxWireVersion", Value: int32(6)}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}},
			want:  Transactions{Reason: `a member of replica set "rs0" (hello setName), but of wire version 6: transactions there need wire version 7 (MongoDB 4.0)`},
		},
		{
			name:  "a mongos of MongoDB 4.2 or later has them",
			hello: bson.D{{Key: "msg", Value: "isdbgrid"}, {Key: "maxWireVersion", Value: int32(8)}, {Key: "logicalSessionTimeoutMinutes", Value: int64(30)}},
			want:  Transactions{Supported: true, Reason: `a mongos (hello msg "isdbgrid"), wire version 8, with sessions`},
		},
		{
			name:  "a mongos of MongoDB 4.0 has none",
			hello: bson.D{{Key: "msg", Value: "isdbgrid"}, {Key: "maxWireVersion", Value: int32(7)}, {Key: "logicalSessionTimeoutMinutes", Value: int32(30)}},
			want:  Transactions{Reason: `a mongos (hello msg "isdbgrid"), but of wire version 7: transactions there need wire version 8 (MongoDB 4.2)`},
		},
		{
			name:  "a replica set member without sessions has none",
			hello: bson.D{{Key: "setName", Value: "rs0"}, {Key: "maxWireVersion", Value: int32(21)}},
			want:  Transactions{Reason: `a member of replica set "rs0" (hello setName), but without sessions (hello reports no logicalSessionTimeoutMinutes), which transactions need`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := bson.Marshal(tt.hello)
			if err != nil {
				t.Fatal(err)
			}
			var h hello
			if err := bson.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, h.transactions()); diff != "" {
				t.Errorf("transactions (-want +got):\n%s", diff)
			}
		})
	}
}
