package generator

import (
	"fmt"
	"go/types"

	"github.com/dave/jennifer/jen"
)

// typeWriter writes types.Type values as jennifer code, recording the
// packages it refers to.
type typeWriter struct {
	local *types.Package
	// imports maps the path of every package referred to its name.
	imports map[string]string
}

func newTypeWriter(local *types.Package) *typeWriter {
	return &typeWriter{local: local, imports: map[string]string{}}
}

// code returns t as jennifer code, or why it cannot be written: struct and
// interface literals with members are refused, as the package's own source
// would rather name them.
func (w *typeWriter) code(t types.Type) (*jen.Statement, error) {
	switch t := t.(type) {
	case *types.Named:
		return w.named(t.Obj(), t.TypeArgs())
	case *types.Alias:
		return w.named(t.Obj(), t.TypeArgs())
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			w.imports["unsafe"] = "unsafe"
			return jen.Qual("unsafe", "Pointer"), nil
		}
		return jen.Id(t.Name()), nil
	case *types.Pointer:
		return w.prefixed(jen.Op("*"), t.Elem())
	case *types.Slice:
		return w.prefixed(jen.Index(), t.Elem())
	case *types.Array:
		return w.prefixed(jen.Index(jen.Lit(int(t.Len()))), t.Elem())
	case *types.Map:
		key, err := w.code(t.Key())
		if err != nil {
			return nil, err
		}
		return w.prefixed(jen.Map(key), t.Elem())
	case *types.Chan:
		prefix := jen.Chan()
		switch t.Dir() {
		case types.SendOnly:
			prefix = jen.Chan().Op("<-")
		case types.RecvOnly:
			prefix = jen.Op("<-").Chan()
		}
		return w.prefixed(prefix, t.Elem())
	case *types.Signature:
		params, err := w.tuple(t.Params(), t.Variadic())
		if err != nil {
			return nil, err
		}
		results, err := w.tuple(t.Results(), false)
		if err != nil {
			return nil, err
		}
		return jen.Func().Params(params...).Params(results...), nil
	case *types.Interface:
		if t.Empty() {
			return jen.Any(), nil
		}
		return nil, fmt.Errorf("interface literal")
	case *types.Struct:
		if t.NumFields() == 0 {
			return jen.Struct(), nil
		}
		return nil, fmt.Errorf("struct literal")
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

func (w *typeWriter) named(obj *types.TypeName, args *types.TypeList) (*jen.Statement, error) {
	var s *jen.Statement
	switch {
	case obj.Pkg() == nil: // error, comparable, any
		s = jen.Id(obj.Name())
	case obj.Pkg() == w.local:
		s = jen.Qual(obj.Pkg().Path(), obj.Name())
	default:
		if !obj.Exported() {
			return nil, fmt.Errorf("unexported type %s of package %s", obj.Name(), obj.Pkg().Path())
		}
		w.imports[obj.Pkg().Path()] = obj.Pkg().Name()
		s = jen.Qual(obj.Pkg().Path(), obj.Name())
	}
	if args.Len() == 0 {
		return s, nil
	}
	codes := make([]jen.Code, args.Len())
	for i := range args.Len() {
		c, err := w.code(args.At(i))
		if err != nil {
			return nil, err
		}
		codes[i] = c
	}
	return s.Types(codes...), nil
}

func (w *typeWriter) prefixed(prefix *jen.Statement, elem types.Type) (*jen.Statement, error) {
	c, err := w.code(elem)
	if err != nil {
		return nil, err
	}
	return prefix.Add(c), nil
}

func (w *typeWriter) tuple(t *types.Tuple, variadic bool) ([]jen.Code, error) {
	codes := make([]jen.Code, t.Len())
	for i := range t.Len() {
		typ := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			c, err := w.prefixed(jen.Op("..."), typ.(*types.Slice).Elem())
			if err != nil {
				return nil, err
			}
			codes[i] = c
			continue
		}
		c, err := w.code(typ)
		if err != nil {
			return nil, err
		}
		codes[i] = c
	}
	return codes, nil
}

// typeName returns the name of a named type or alias, or nil.
func typeName(t types.Type) *types.TypeName {
	switch t := t.(type) {
	case *types.Named:
		return t.Obj()
	case *types.Alias:
		return t.Obj()
	}
	return nil
}

// typeString renders t as the source of package local would write it:
// *sql.Tx, not *database/sql.Tx.
func typeString(t types.Type, local *types.Package) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == local {
			return ""
		}
		return p.Name()
	})
}
