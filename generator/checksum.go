package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/scanner"
	"go/token"
	"path/filepath"
	"strings"
)

// checksum returns the sha256 (hex) of what a change executes: the
// normalized source of nodes, then the content of every embedded file they
// reach (see embedded).
//
// The source counts as its tokens, without comments, doc comments and
// layout, so that reformatting or re-commenting a change does not alter it,
// while any change to the code does. Semicolons, written or inserted at line
// ends, count alike; the optional ones before a closing ")" or "}" and a
// trailing comma before a closing bracket are dropped, so that splitting a
// block or an argument list over lines keeps the checksum. A change that
// reaches no embedded file has the checksum of its source alone. embeds
// reports whether nodes reach a variable initialized by //go:embed; when
// the checker cannot read embedded files (in an analysis pass), the
// checksum then covers the source alone.
func (c *checker) checksum(nodes ...ast.Node) (sum string, embeds bool, err error) {
	h := sha256.New()
	for i, n := range nodes {
		if i > 0 {
			h.Write([]byte("\n"))
		}
		start := n.Pos()
		switch n := n.(type) {
		case *ast.FuncDecl:
			start = n.Type.Func
		case *ast.TypeSpec:
			// A spec has no "type" keyword of its own: one in a group and
			// one on its own line must hash alike.
			h.Write([]byte("type "))
		}
		toks, err := c.tokens(start, n.End())
		if err != nil {
			return "", false, err
		}
		h.Write([]byte(strings.Join(toks, " ")))
	}
	vars, files := c.embedded(nodes)
	for _, f := range files {
		data, err := c.readFile(filepath.Join(c.dir, filepath.FromSlash(f)))
		if err != nil {
			return "", false, fmt.Errorf("reading embedded file %s: %w", f, err)
		}
		fmt.Fprintf(h, "\nembed %q %x", f, sha256.Sum256(data))
	}
	return hex.EncodeToString(h.Sum(nil)), vars > 0, nil
}

// tokens returns the tokens of the source between from and to.
func (c *checker) tokens(from, to token.Pos) ([]string, error) {
	f := c.fset.File(from)
	src, err := c.readFile(f.Name())
	if err != nil {
		return nil, err
	}
	lo, hi := f.Offset(from), f.Offset(to)
	if hi > len(src) {
		return nil, fmt.Errorf("%s changed while it was read", f.Name())
	}
	src = src[lo:hi]
	var s scanner.Scanner
	var scanErr error
	s.Init(token.NewFileSet().AddFile("", -1, len(src)), src, func(_ token.Position, msg string) {
		scanErr = fmt.Errorf("%s: %s", f.Name(), msg)
	}, 0)
	var toks []string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if n := len(toks); n > 0 && (tok == token.RPAREN || tok == token.RBRACK || tok == token.RBRACE) &&
			(toks[n-1] == "," || toks[n-1] == ";" && tok != token.RBRACK) {
			toks = toks[:n-1]
		}
		switch {
		case tok == token.SEMICOLON:
			toks = append(toks, ";")
		case lit != "":
			toks = append(toks, lit)
		default:
			toks = append(toks, tok.String())
		}
	}
	return toks, scanErr
}
