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

// Sum returns the digest of the changes added, in hex.
func (s *Stage) Sum() string {
	s.h.Write(s.buf)
	s.buf = s.buf[:0]
	return hex.EncodeToString(s.h.Sum(nil))
}

// Pipeline returns the digest of a pipeline whose stages are named names,
// in order, and have the digests stages (as Stage.Sum returns them). Each
// field is prefixed with its length, so that no two pipelines share one.
func Pipeline(names, stages []string) string {
	buf := []byte("flamingock-go pipeline digest 2\n")
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
