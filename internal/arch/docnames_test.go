package arch

import (
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"regexp"
	"strings"
	"testing"
)

// memberRE finds Type.Member in a doc's text, with the package before it
// when there is one (pkg.Type.Member).
var memberRE = regexp.MustCompile(`(?:\b([a-z][a-z0-9]*)\.)?\b([A-Z][A-Za-z0-9]*)\.([A-Z][A-Za-z0-9]*)\b`)

// docPkg is what TestDocNamesExist knows of one package of ours.
type docPkg struct {
	doc     *doc.Package
	syms    map[string]bool   // as exported returns them
	types   map[string]bool   // declared type names
	aliases map[string]string // alias type name → "pkgname.Type" it stands for
	embeds  map[string]bool   // types with an embedded field (their promoted members are not listed)
}

// TestDocNamesExist: a doc comment's plain text (not only its [links]),
// struct fields' docs included, that names Type.Member or pkg.Type.Member
// of a type of ours names a method or field that type has, so `go doc`
// never tells of a method that does not exist (tools.Server's doc once
// linked [Server.StreamableHTTP] and [Server.SSE], which TestDocLinksResolve
// now catches; the same names in plain text it does not read). Code blocks
// are examples, and are not checked; names whose type is not one of ours
// are not either.
func TestDocNamesExist(t *testing.T) {
	pkgs := map[string]*docPkg{}     // import path →
	byName := map[string][]*docPkg{} // package name →
	for path, p := range ourDocs(t) {
		dp := &docPkg{doc: p, syms: exported(p), types: map[string]bool{}, aliases: map[string]string{}, embeds: map[string]bool{}}
		for _, ty := range p.Types {
			dp.types[ty.Name] = true
			for _, spec := range ty.Decl.Specs {
				ts, ok := spec.(*ast.TypeSpec)
				if !ok {
					continue
				}
				if sel, ok := ts.Type.(*ast.SelectorExpr); ok && ts.Assign.IsValid() {
					if x, ok := sel.X.(*ast.Ident); ok {
						dp.aliases[ty.Name] = x.Name + "." + sel.Sel.Name
					}
				}
				if st, ok := ts.Type.(*ast.StructType); ok {
					for _, f := range st.Fields.List {
						if len(f.Names) == 0 {
							dp.embeds[ty.Name] = true
						}
					}
				}
			}
		}
		pkgs[path] = dp
		byName[p.Name] = append(byName[p.Name], dp)
	}
	// has reports whether typ.member exists in p, following an alias into
	// another package of ours; a type with embedded fields may have it.
	var has func(p *docPkg, typ, member string, depth int) bool
	has = func(p *docPkg, typ, member string, depth int) bool {
		if p.syms[typ+"."+member] || p.embeds[typ] {
			return true
		}
		if target, ok := p.aliases[typ]; ok && depth < 3 {
			pkgName, name, _ := strings.Cut(target, ".")
			owners := byName[pkgName]
			if len(owners) == 0 {
				return true // an alias of a type not ours
			}
			for _, q := range owners {
				if q.types[name] && has(q, name, member, depth+1) {
					return true
				}
			}
		}
		return false
	}
	checked := 0
	for path, p := range pkgs {
		pr := p.doc.Parser()
		all := allDocs(p.doc)
		for where, text := range all {
			for _, m := range memberRE.FindAllStringSubmatch(plainText(pr.Parse(text).Content), -1) {
				pkgName, typ, member := m[1], m[2], m[3]
				owners := []*docPkg{p}
				if pkgName != "" {
					if owners = byName[pkgName]; len(owners) == 0 {
						continue // not a package of ours
					}
				}
				found, isType := false, false
				for _, q := range owners {
					if q.types[typ] {
						isType = true
						found = found || has(q, typ, member, 0)
					}
				}
				if !isType {
					continue // not a type of ours (a function, a field, another package's)
				}
				checked++
				if !found {
					t.Errorf("%s: the doc of %s names %s, which does not exist", path, where, m[0])
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d Type.Member names checked: the scan is broken", checked)
	}
}

// fieldDocs yields the docs of exported struct fields of p's types, by
// Type.Field.
func fieldDocs(p *doc.Package) map[string]string {
	d := map[string]string{}
	for _, ty := range p.Types {
		for _, spec := range ty.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, f := range st.Fields.List {
				for _, n := range f.Names {
					if n.IsExported() && f.Doc != nil {
						d[ty.Name+"."+n.Name] = f.Doc.Text()
					}
				}
			}
		}
	}
	return d
}

// plainText is a parsed doc's prose: paragraphs, headings and lists, without
// code blocks and without doc links (TestDocLinksResolve checks those).
func plainText(blocks []comment.Block) string {
	var b strings.Builder
	var texts func([]comment.Text)
	texts = func(ts []comment.Text) {
		for _, t := range ts {
			switch x := t.(type) {
			case comment.Plain:
				b.WriteString(string(x))
			case comment.Italic:
				b.WriteString(string(x))
			case *comment.Link:
				texts(x.Text)
			case *comment.DocLink:
				b.WriteString(" ")
			}
		}
	}
	for _, bl := range blocks {
		switch x := bl.(type) {
		case *comment.Paragraph:
			texts(x.Text)
		case *comment.Heading:
			texts(x.Text)
		case *comment.List:
			for _, it := range x.Items {
				b.WriteString(plainText(it.Content))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
