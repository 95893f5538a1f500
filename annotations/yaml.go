package annotations

import (
	"go/ast"
	"go/token"
)

// The package directive of MongoDB YAML steps files. A package of changes
// whose directory holds <order>_<name>.yaml files (see package
// runtime/mongosteps) says once, in any comment of one of its Go files,
// which target they run on:
//
//	//flamingock:yaml target=appdb
//
// Its one attribute, required:
//
//	target=ID   the target every YAML file of the package runs on: the rules of
//	            target= in //flamingock:change. Its handle is *mongo.Database
//	            (a mongotarget): a Go change on the same target must take it too.
//
// The value is written as in //flamingock:change.

var knownYAMLAttrs = []string{attrTarget}

// YAML is one parsed //flamingock:yaml package directive.
type YAML struct {
	// Pos is the position of the directive's leading "//".
	Pos token.Pos
	// Target is the id of the target the package's YAML files run on.
	Target string

	attrs map[string]token.Pos
}

// AttrPos returns the position of attribute name ("target") in the
// directive, or the directive's position when the attribute is absent.
func (y YAML) AttrPos(name string) token.Pos {
	if p, ok := y.attrs[name]; ok {
		return p
	}
	return y.Pos
}

// ParseYAMLComment parses c when it is a //flamingock:yaml package
// directive.
//
// ok is false when c is not one, and true when it is one or looks like a
// mistyped one ("// flamingock:yaml", with a space; a misspelt name such as
// //flamingock:yml is ParseComment's to report). err, when non-nil, is an
// ErrorList holding every problem found, and y then holds what could be
// parsed.
func ParseYAMLComment(c *ast.Comment) (y YAML, ok bool, err error) {
	d, isDirective := ast.ParseDirective(c.Slash, c.Text)
	if !isDirective || d.Tool != Tool {
		if looksLikeDirective(c.Text) == yamlDirectiveName {
			return YAML{Pos: c.Slash}, true, ErrorList{{Pos: c.Slash, Msg: `malformed directive: write "//flamingock:yaml" with no space after "//" or ":"`}}
		}
		return YAML{}, false, nil
	}
	if d.Name != yamlDirectiveName {
		return YAML{}, false, nil
	}
	y = YAML{Pos: d.Slash}
	attrs, errs, whole := parseAttrs(d, knownYAMLAttrs, y.set)
	y.attrs = attrs
	if _, has := attrs[attrTarget]; whole && !has {
		errs = append(errs, &Error{Pos: d.Slash, Msg: "missing target: add target=… (the id of the mongotarget the package's YAML files run on)"})
	}
	if len(errs) > 0 {
		return y, true, errs
	}
	return y, true, nil
}

// set stores attribute name=value in y, or returns why value is invalid.
func (y *YAML) set(name, value string) string {
	if name == attrTarget {
		var c Change
		if msg := c.set(attrTarget, value); msg != "" {
			return msg
		}
		y.Target = c.Target
	}
	return ""
}
