// Package digest computes the digests that identify a stage and a
// pipeline in checkpoints. flamingock-gen computes a stage's at generate
// time and the runtime recomputes it from the stage's changes when it
// builds them, so both must hash the same way: this package is that one
// way.
package digest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
)

// A Stage hashes the changes of one stage, in order. Its zero value is
// not ready: use NewStage.
type Stage struct {
	h   hash.Hash
	buf []byte
}

// NewStage returns the digest of a stage without changes, to Add them to.
func NewStage() *Stage {
	s := &Stage{h: sha256.New(), buf: make([]byte, 0, 8<<10)}
	s.buf = append(s.buf, "flamingock-go stage digest 1\n"...)
	return s
}

// Add adds the change of id and checksum, after those added before.
func (s *Stage) Add(id, checksum string) {
	s.buf = field(field(s.buf, id), checksum)
	// Hashed in blocks of a few KiB: one Write per change costs more than
	// the hashing.
	if len(s.buf) >= 4<<10 {
		s.h.Write(s.buf)
		s.buf = s.buf[:0]
	}
}

// profiledMark starts the fields of a change that declares profiles: no
// change id starts with a NUL byte, so the fields of a change added with
// Add (its id, its checksum) and of one with profiles never read the same.
const profiledMark = "\x00profiled"

// AddProfiled adds the change of id and checksum that declares profiles
// (as its Meta.Profiles lists them, '!' included), after those added
// before: whether a change runs depends on them, so that a change that
// gains or loses a profile changes the digest, and no checkpoint saved
// before is trusted. Without profiles it is Add, so that the digest of a
// stage whose changes declare none is what it was before profiles existed.
// The order in which the profiles are written does not matter.
func (s *Stage) AddProfiled(id, checksum string, profiles []string) {
	if len(profiles) == 0 {
		s.Add(id, checksum)
		return
	}
	s.buf = field(field(field(field(s.buf, profiledMark), id), checksum), strings.Join(slices.Sorted(slices.Values(profiles)), ","))
	if len(s.buf) >= 4<<10 {
		s.h.Write(s.buf)
		s.buf = s.buf[:0]
	}
}

// Sum returns the digest of the changes added, in hex.
func (s *Stage) Sum() string {
	s.h.Write(s.buf)
	s.buf = s.buf[:0]
	return hex.EncodeToString(s.h.Sum(nil))
}

// Pipeline returns the digest of a pipeline whose stages are named names,
// in order, and have the digests stages (as Stage.Sum returns them), run
// by a runner whose active profiles are profiles. Each field is prefixed
// with its length, so that no two pipelines share one.
//
// The active profiles decide which changes a run leaves out, so a
// checkpoint saved by a runner of one profile set is never current for a
// runner of another: their digests differ (the order and repetitions of
// profiles aside). Without profiles the digest is the one of a pipeline
// before profiles existed, so that its checkpoints stay current.
func Pipeline(names, stages []string, profiles ...string) string {
	buf := []byte("flamingock-go pipeline digest 2\n")
	if len(profiles) > 0 {
		// Another first line: no pipeline without profiles shares these
		// bytes.
		buf = []byte("flamingock-go pipeline digest 2 with profiles\n")
		active := slices.Compact(slices.Sorted(slices.Values(profiles)))
		buf = binary.AppendUvarint(buf, uint64(len(active)))
		for _, p := range active {
			buf = field(buf, p)
		}
	}
	for i := range names {
		buf = field(field(buf, names[i]), stages[i])
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

func field(buf []byte, f string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(f)))
	return append(buf, f...)
}
