package e2e

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"policygraph/internal/testenv"
)

var (
	// fenceRE is a fenced code block; codeSpanRE an inline code span. Links
	// inside either are text, not links.
	fenceRE    = regexp.MustCompile("(?ms)^```.*?^```")
	codeSpanRE = regexp.MustCompile("`+[^`]*`+")
	// linkRE is an inline link or image, [text](target) or [text](target "title").
	linkRE = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	// headingRE is an ATX heading; idRE an HTML anchor (<a id="..."> or name=).
	headingRE = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
	idRE      = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// TestReadmeDocLinks checks every relative link of README.md, docs/*.md,
// CHANGELOG.md and BENCHMARKS.md: the file it names exists, and so does the
// heading its #fragment names (as GitHub makes a heading's anchor).
func TestReadmeDocLinks(t *testing.T) {
	root := testenv.ModuleRoot()
	pages := append(docPages(t), "CHANGELOG.md", "BENCHMARKS.md")
	anchors := map[string]map[string]bool{} // by page, relative to root
	anchorsOf := func(page string) map[string]bool {
		if a, ok := anchors[page]; ok {
			return a
		}
		a := map[string]bool{}
		if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page))); err == nil {
			a = markdownAnchors(string(b))
		}
		anchors[page] = a
		return a
	}
	links := 0
	for _, page := range pages {
		text := fenceRE.ReplaceAllString(string(readPage(t, page)), "")
		text = codeSpanRE.ReplaceAllString(text, "``")
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links++
			file, frag, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = path.Clean(path.Join(path.Dir(page), file))
				if strings.HasPrefix(dest, "../") {
					t.Errorf("%s: %s leaves the repository", page, target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
					t.Errorf("%s: %s: no file %s", page, target, dest)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !anchorsOf(dest)[frag] {
				t.Errorf("%s: %s: %s has no heading with the anchor #%s", page, target, dest, frag)
			}
		}
	}
	if links < 20 {
		t.Errorf("found %d relative links in %q; the link pattern is broken", links, pages)
	}
}

// markdownAnchors are the anchors of a page's headings, as GitHub makes
// them (lower case, punctuation dropped, spaces to hyphens, a repeated one
// numbered -1, -2...), and of its HTML anchors.
func markdownAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	for _, m := range idRE.FindAllStringSubmatch(doc, -1) {
		out[m[1]] = true
	}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(doc, ""), -1) {
		slug := headingSlug(m[1])
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// headingSlug is GitHub's anchor for a heading's text.
func headingSlug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
