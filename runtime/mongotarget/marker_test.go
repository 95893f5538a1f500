package mongotarget_test

import (
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/flamingock/flamingock-go/audit"
	"github.com/flamingock/flamingock-go/runtime/mongotarget"
	"github.com/flamingock/flamingock-go/runtime/pipeline"
)

func TestMarkers(t *testing.T) {
	e := newEnv(t)
	k1 := audit.Key{Stage: "s1", ChangeID: "c1"}
	k2 := audit.Key{Stage: "s1", ChangeID: "c2"}

	// has reports whether tg holds each marker, failing t on error.
	has := func(t *testing.T, tg *mongotarget.Target, ms ...pipeline.Marker) []bool {
		t.Helper()
		var out []bool
		for _, m := range ms {
			ok, err := tg.HasMarker(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ok)
		}
		return out
	}
	e1k1 := pipeline.Marker{Key: k1, ExecutionID: "e1"}
	e2k1 := pipeline.Marker{Key: k1, ExecutionID: "e2"}
	e1k2 := pipeline.Marker{Key: k2, ExecutionID: "e1"}

	t.Run("a missing collection reads as no marker, and reading does not create it", func(t *testing.T) {
		tg := e.target()
		if got := has(t, tg, e1k1); got[0] {
			t.Error("HasMarker = true in an empty database")
		}
		if err := tg.ClearMarker(t.Context(), k1); err != nil {
			t.Errorf("ClearMarker: %v", err)
		}
		if slices.Contains(collections(t, e.db), mongotarget.DefaultMarkerCollection) {
			t.Errorf("collections %v; want no %s yet", collections(t, e.db), mongotarget.DefaultMarkerCollection)
		}
	})

	t.Run("a marker proves its own execution of its own change only", func(t *testing.T) {
		tg := e.target()
		if err := tg.WriteMarkerOutsideTx(t.Context(), e1k1); err != nil {
			t.Fatal(err)
		}
		if got := has(t, tg, e1k1, e2k1, e1k2); !slices.Equal(got, []bool{true, false, false}) {
			t.Errorf("HasMarker of e1/c1, e2/c1, e1/c2 = %v; want only e1/c1", got)
		}
	})

	t.Run("a new execution's marker replaces the one an earlier execution left", func(t *testing.T) {
		tg := e.target()
		if err := tg.WriteMarkerOutsideTx(t.Context(), e2k1); err != nil {
			t.Fatal(err)
		}
		if got := has(t, tg, e1k1, e2k1); !slices.Equal(got, []bool{false, true}) {
			t.Errorf("HasMarker of e1/c1, e2/c1 = %v; want only e2/c1", got)
		}
		n, err := e.db.Collection(mongotarget.DefaultMarkerCollection).CountDocuments(t.Context(), bson.D{})
		if err != nil || n != 1 {
			t.Errorf("%d marker documents, %v; want 1", n, err)
		}
	})

	t.Run("clearing deletes the change's marker whatever its execution, and leaves the others", func(t *testing.T) {
		tg := e.target()
		if err := tg.WriteMarkerOutsideTx(t.Context(), e1k2); err != nil {
			t.Fatal(err)
		}
		if err := tg.ClearMarker(t.Context(), k1); err != nil {
			t.Fatal(err)
		}
		if got := has(t, tg, e2k1, e1k2); !slices.Equal(got, []bool{false, true}) {
			t.Errorf("HasMarker of e2/c1, e1/c2 = %v; want only e1/c2", got)
		}
		if err := tg.ClearMarker(t.Context(), k1); err != nil {
			t.Errorf("clearing a marker that is gone: %v", err)
		}
	})

	t.Run("WithMarkerCollection keeps markers apart", func(t *testing.T) {
		other := e.target(mongotarget.WithMarkerCollection("other_markers"))
		if got := has(t, other, e1k2); got[0] {
			t.Error("HasMarker in other_markers = true; want the default collection's marker invisible there")
		}
		if err := other.WriteMarkerOutsideTx(t.Context(), e1k1); err != nil {
			t.Fatal(err)
		}
		n, err := e.db.Collection("other_markers").CountDocuments(t.Context(), bson.D{})
		if err != nil || n != 1 {
			t.Errorf("%d documents in other_markers, %v; want 1", n, err)
		}
	})
}
