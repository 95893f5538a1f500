package mongosteps

import (
	"fmt"
	"strings"
)

// Error is one problem in a steps file, at a position in it: line and
// column count from 1, the column in bytes (as go/token does).
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// ErrorList is every problem Parse found in a file, sorted by position.
// Parse returns one as its error when the file is not valid.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// StepError is the failure of one step at run time: which list (steps or
// undo), which step (counted from 1), its operation and where it is
// written. Err is the server's or the driver's error, kept for errors.Is
// and errors.As (mongo.IsDuplicateKeyError, say).
type StepError struct {
	File  string
	Undo  bool // a step of the undo list
	Index int  // from 1, in its list
	Op    Op
	Line  int
	Col   int
	Err   error
}

func (e *StepError) Error() string {
	list := "step"
	if e.Undo {
		list = "undo step"
	}
	return fmt.Sprintf("%s:%d:%d: %s %d (%s): %v", e.File, e.Line, e.Col, list, e.Index, e.Op, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }
