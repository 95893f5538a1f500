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

func profiledStage(id, sum string, profiles ...string) string {
	s := digest.NewStage()
	s.AddProfiled(id, sum, profiles)
	return s.Sum()
}

// TestProfilesAreInTheDigests: a change that gains, loses or changes a
// profile, and a runner of another profile set, each give another digest,
// so that no checkpoint of one is current for the other; without profiles
// the digests are those of before profiles.
func TestProfilesAreInTheDigests(t *testing.T) {
	if got, want := profiledStage("a", "sum1"), stage("a", "sum1"); got != want {
		t.Errorf("a change without profiles: stage digest %s, want the one Add gives, %s", got, want)
	}
	if got, want := profiledStage("a", "sum1", "test", "dev"), profiledStage("a", "sum1", "dev", "test"); got != want {
		t.Error("the order profiles are written in changed the stage digest")
	}
	base := stage("a", "sum1")
	for name, other := range map[string]string{
		"a profile gained":     profiledStage("a", "sum1", "dev"),
		"another profile":      profiledStage("a", "sum1", "test"),
		"a profile negated":    profiledStage("a", "sum1", "!dev"),
		"a profile more":       profiledStage("a", "sum1", "dev", "test"),
		"profiles run into id": profiledStage("a", "sum1dev"),
	} {
		if other == base || (name != "a profile gained" && other == profiledStage("a", "sum1", "dev")) {
			t.Errorf("%s: the stage digest did not change", name)
		}
	}

	names, sums := []string{"s1"}, []string{base}
	none := digest.Pipeline(names, sums)
	dev := digest.Pipeline(names, sums, "dev")
	for name, d := range map[string]string{
		"dev":      dev,
		"prod":     digest.Pipeline(names, sums, "prod"),
		"dev,prod": digest.Pipeline(names, sums, "dev", "prod"),
	} {
		if d == none {
			t.Errorf("a runner with profiles %s has the digest of one without", name)
		}
		if name != "dev" && d == dev {
			t.Errorf("a runner with profiles %s has the digest of a dev runner", name)
		}
	}
	if got := digest.Pipeline(names, sums, "prod", "dev", "dev"); got != digest.Pipeline(names, sums, "dev", "prod") {
		t.Error("the order or repetition of active profiles changed the pipeline digest")
	}
	// A stage named like the profile fields cannot stand for them.
	if digest.Pipeline([]string{"dev"}, []string{base}) == digest.Pipeline(nil, nil, "dev") {
		t.Error("a profile and a stage name gave one digest")
	}
}
