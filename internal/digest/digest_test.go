package digest_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/flamingock/flamingock-go/internal/digest"
)

func stage(pairs ...string) string {
	s := digest.NewStage()
	for i := 0; i < len(pairs); i += 2 {
		s.Add(pairs[i], pairs[i+1])
	}
	return s.Sum()
}

// TestDigestsTellPipelinesApart: every difference in what decides whether
// a pipeline is done changes its digest, including the ones a plain
// concatenation would hide.
func TestDigestsTellPipelinesApart(t *testing.T) {
	base := digest.Pipeline([]string{"s1"}, []string{stage("a", "sum1", "b", "sum2")})
	for name, other := range map[string]string{
		"a change's checksum":       digest.Pipeline([]string{"s1"}, []string{stage("a", "sum1", "b", "sum3")}),
		"the order of changes":      digest.Pipeline([]string{"s1"}, []string{stage("b", "sum2", "a", "sum1")}),
		"a change more":             digest.Pipeline([]string{"s1"}, []string{stage("a", "sum1", "b", "sum2", "c", "sum4")}),
		"the stage name":            digest.Pipeline([]string{"s2"}, []string{stage("a", "sum1", "b", "sum2")}),
		"id and checksum run on":    digest.Pipeline([]string{"s1"}, []string{stage("as", "um1", "b", "sum2")}),
		"the split into two stages": digest.Pipeline([]string{"s1", "s2"}, []string{stage("a", "sum1"), stage("b", "sum2")}),
	} {
		if other == base {
			t.Errorf("%s changed and the digest did not", name)
		}
	}
	if again := digest.Pipeline([]string{"s1"}, []string{stage("a", "sum1", "b", "sum2")}); again != base {
		t.Error("the same pipeline gave two digests")
	}
}

// TestAStageOfManyChangesHashesInBlocks: the buffer flushed in blocks
// gives the digest of the whole encoding hashed at once.
func TestAStageOfManyChangesHashesInBlocks(t *testing.T) {
	s := digest.NewStage()
	want := []byte("flamingock-go stage digest 1\n")
	for i := range 2000 {
		id, sum := fmt.Sprintf("change-%d", i), fmt.Sprintf("%064x", i)
		s.Add(id, sum)
		want = binary.AppendUvarint(want, uint64(len(id)))
		want = append(want, id...)
		want = binary.AppendUvarint(want, uint64(len(sum)))
		want = append(want, sum...)
	}
	if got, w := s.Sum(), sha256.Sum256(want); got != hex.EncodeToString(w[:]) {
		t.Errorf("digest of 2,000 changes = %s, want %x", got, w)
	}
}
