package arch

import (
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocLinksResolve: every doc link of ours ([Name], [Type.Method],
// [pkg.Name]), in struct fields' docs too, names something that exists, so
// `go doc` never points a reader at a method that is not there
// (tools.Server's doc once named two).
// Links into packages outside the module are not checked.
func TestDocLinksResolve(t *testing.T) {
	pkgs := ourDocs(t)
	symbols := map[string]map[string]bool{} // import path → "Name", "Type.Method", "Type.Field"
	for path, p := range pkgs {
		symbols[path] = exported(p)
	}
	for path, p := range pkgs {
		pr := p.Parser()
		own := pr.LookupPackage
		var links []*comment.DocLink
		pr.LookupSym = func(recv, name string) bool { return true } // collect every candidate; checked below
		pr.LookupPackage = func(name string) (string, bool) {
			if ip, ok := own(name); ok {
				return ip, true
			}
			for ip := range pkgs { // a package of ours the file does not import
				if ip == module+"/"+name || strings.HasSuffix(ip, "/"+name) {
					return ip, true
				}
			}
			return "", false
		}
		all := allDocs(p)
		for where, text := range all {
			links = links[:0]
			collect(pr.Parse(text).Content, &links)
			for _, l := range links {
				ip := l.ImportPath
				if ip == "" {
					ip = path
				}
				syms, ours := symbols[ip]
				if !ours || l.Name == "" || l.Recv == "" && strings.ToUpper(l.Name) == l.Name {
					continue // not ours, or a marker in brackets such as [DONE]
				}
				name := l.Name
				if l.Recv != "" {
					name = l.Recv + "." + l.Name
				}
				if !syms[name] {
					t.Errorf("%s: the doc of %s links [%s], which %s does not declare", path, where, linkText(l), ip)
				}
			}
		}
	}
}

// exported lists a package's exported names, its types' exported methods
// and fields among them.
// ourDocs parses every package of the module (its non-test files) into
// its go/doc form, by import path.
func ourDocs(t *testing.T) map[string]*doc.Package {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*doc.Package{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) < 3 || parts[2] == "" {
			continue
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for name := range strings.FieldsSeq(parts[2]) {
			f, err := parser.ParseFile(fset, filepath.Join(parts[1], name), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		p, err := doc.NewFromFiles(fset, files, parts[0])
		if err != nil {
			t.Fatalf("%s: %v", parts[0], err)
		}
		pkgs[parts[0]] = p
	}
	return pkgs
}

// allDocs is docs(p) with p's struct fields' docs (fieldDocs).
func allDocs(p *doc.Package) map[string]string {
	all := docs(p)
	for where, text := range fieldDocs(p) {
		all[where] = text
	}
	return all
}

func exported(p *doc.Package) map[string]bool {
	s := map[string]bool{}
	addValues := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				s[n] = true
			}
		}
	}
	addValues(p.Consts)
	addValues(p.Vars)
	for _, f := range p.Funcs {
		s[f.Name] = true
	}
	for _, ty := range p.Types {
		s[ty.Name] = true
		addValues(ty.Consts)
		addValues(ty.Vars)
		for _, f := range ty.Funcs {
			s[f.Name] = true
		}
		for _, m := range ty.Methods {
			s[ty.Name+"."+m.Name] = true
		}
		for _, spec := range ty.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				for _, f := range st.Fields.List {
					for _, n := range f.Names {
						s[ty.Name+"."+n.Name] = true
					}
					if len(f.Names) == 0 { // embedded: its methods are promoted
						s[ty.Name+"."+embeddedName(f.Type)] = true
					}
				}
			}
			if it, ok := ts.Type.(*ast.InterfaceType); ok {
				for _, m := range it.Methods.List {
					for _, n := range m.Names {
						s[ty.Name+"."+n.Name] = true
					}
				}
			}
		}
	}
	return s
}

func embeddedName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return embeddedName(x.X)
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.Ident:
		return x.Name
	}
	return ""
}

// docs yields every doc comment of p with what it documents.
func docs(p *doc.Package) map[string]string {
	d := map[string]string{"package": p.Doc}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			d[strings.Join(v.Names, ", ")] = v.Doc
		}
	}
	values(p.Consts)
	values(p.Vars)
	for _, f := range p.Funcs {
		d[f.Name] = f.Doc
	}
	for _, ty := range p.Types {
		d[ty.Name] = ty.Doc
		values(ty.Consts)
		values(ty.Vars)
		for _, f := range ty.Funcs {
			d[f.Name] = f.Doc
		}
		for _, m := range ty.Methods {
			d[ty.Name+"."+m.Name] = m.Doc
		}
	}
	return d
}

func collect(blocks []comment.Block, into *[]*comment.DocLink) {
	var texts func([]comment.Text)
	texts = func(ts []comment.Text) {
		for _, t := range ts {
			switch x := t.(type) {
			case *comment.DocLink:
				*into = append(*into, x)
			case *comment.Italic, comment.Plain:
			case *comment.Link:
				texts(x.Text)
			}
		}
	}
	for _, b := range blocks {
		switch x := b.(type) {
		case *comment.Paragraph:
			texts(x.Text)
		case *comment.Heading:
			texts(x.Text)
		case *comment.List:
			for _, it := range x.Items {
				collect(it.Content, into)
			}
		}
	}
}

func linkText(l *comment.DocLink) string {
	s := l.Name
	if l.Recv != "" {
		s = l.Recv + "." + s
	}
	if l.ImportPath != "" {
		s = filepath.Base(l.ImportPath) + "." + s
	}
	return s
}
