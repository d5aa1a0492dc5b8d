package api

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// Scope is what a curator's token allows.
type Scope string

// The scopes. Every token may read (write and admin imply read): a token that
// can change the graph must see what it changes.
const (
	// ScopeRead lets a token read a private server (-private).
	ScopeRead Scope = "read"
	// ScopeWrite lets a token run the mutations that change the graph.
	ScopeWrite Scope = "write"
	// ScopeAdmin lets a token take backups and save or delete saved queries.
	ScopeAdmin Scope = "admin"
)

// Scopes lists the scopes in the order the docs give them.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeAdmin}

// Curator is one named token: its name, recorded as the actor of every write
// made with it, and its scopes. The token itself is never held, only its
// SHA-256 digest.
type Curator struct {
	Name   string
	scopes []Scope
	digest [sha256.Size]byte
}

// Can reports whether the curator's token allows s.
func (c *Curator) Can(s Scope) bool {
	return c != nil && (s == ScopeRead && len(c.scopes) > 0 || slices.Contains(c.scopes, s))
}

// Scopes lists the curator's scopes as given.
func (c *Curator) Scopes() []Scope { return slices.Clone(c.scopes) }

// Curators is a set of named tokens. A set is never changed once made: a
// reload makes a new one, which Auth swaps in whole.
type Curators struct {
	list []*Curator
	// byDigest finds a curator by its token's digest. A lookup's time may
	// depend on the digest's bytes, which tells a guesser nothing of any
	// token: it does not choose the digest of what it sends (that would
	// mean a preimage of SHA-256).
	byDigest map[[sha256.Size]byte]*Curator
}

// DefaultCurator is the name of the curator of -token: "curator", as every
// write was recorded before tokens had names.
const DefaultCurator = "curator"

// SingleCurator is the set of -token alone: one curator named
// DefaultCurator with the write and admin scopes. An empty token makes the
// empty set.
func SingleCurator(token string) *Curators {
	if token == "" {
		return &Curators{}
	}
	s := &Curators{}
	s.add(&Curator{Name: DefaultCurator, scopes: []Scope{ScopeWrite, ScopeAdmin}, digest: sha256.Sum256([]byte(token))})
	return s
}

// Len is how many curators the set holds.
func (s *Curators) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// Names lists the curators' names, in the order they were given.
func (s *Curators) Names() []string {
	var out []string
	for _, c := range s.list {
		out = append(out, c.Name)
	}
	return out
}

// CanAny reports whether some curator of the set has scope sc.
func (s *Curators) CanAny(sc Scope) bool {
	if s == nil {
		return false
	}
	for _, c := range s.list {
		if c.Can(sc) {
			return true
		}
	}
	return false
}

// Lookup returns the curator whose token is token, or nil: it looks the
// token's SHA-256 digest up, and compares the digest found in constant time.
func (s *Curators) Lookup(token string) *Curator {
	if s == nil || token == "" {
		return nil
	}
	d := sha256.Sum256([]byte(token))
	c := s.byDigest[d]
	if c == nil || subtle.ConstantTimeCompare(d[:], c.digest[:]) != 1 {
		return nil
	}
	return c
}

// Merge returns the set of s's curators and then o's; a name or a token
// given twice is an error.
func (s *Curators) Merge(o *Curators) (*Curators, error) {
	out := &Curators{}
	for _, set := range []*Curators{s, o} {
		if set == nil {
			continue
		}
		for _, c := range set.list {
			if err := out.add(c); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (s *Curators) add(c *Curator) error {
	for _, o := range s.list {
		if o.Name == c.Name {
			return fmt.Errorf("curator %q is given twice", c.Name)
		}
		if o.digest == c.digest {
			return fmt.Errorf("curators %q and %q have the same token", o.Name, c.Name)
		}
	}
	s.list = append(s.list, c)
	if s.byDigest == nil {
		s.byDigest = map[[sha256.Size]byte]*Curator{}
	}
	s.byDigest[c.digest] = c
	return nil
}

// HashPrefix starts a token's hash in a token file: the hash is "sha256:"
// and the 64 hex digits of the SHA-256 digest of the token.
const HashPrefix = "sha256:"

// HashToken is the hash of token as a token file holds it.
func HashToken(token string) string {
	d := sha256.Sum256([]byte(token))
	return HashPrefix + hex.EncodeToString(d[:])
}

// TokenPrefix starts the tokens NewToken makes, so that secret scanners and
// people can tell one for what it is.
const TokenPrefix = "pgt_"

// NewToken makes a random token: TokenPrefix and 32 random bytes in
// unpadded base64url (256 bits: no guess, however slowed or not, finds it).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// curatorName is what a curator's name may be: it is recorded on every
// write, shown in the schema and logged.
var curatorName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// reservedNames are the actors the service itself records.
var reservedNames = map[string]string{"seed": "the article's seeded records are recorded as written by \"seed\""}

// ParseCurators reads a token file: one curator a line, as
//
//	NAME SCOPES HASH
//
// where NAME is lowercase letters, digits, '.', '_' and '-' (at most 64),
// SCOPES is a comma-separated list of read, write and admin, and HASH is
// "sha256:" and the 64 hex digits of the SHA-256 of the token (what
// `policygraph token` prints). Blank lines and lines starting with '#' are
// skipped. An error names origin and the line, never its hash.
func ParseCurators(r io.Reader, origin string) (*Curators, error) {
	s := &Curators{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseCurator(line)
		if err == nil {
			err = s.add(c)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", origin, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	return s, nil
}

// ParseInlineCurators reads the curators of POLICYGRAPH_TOKENS: the lines of
// a token file, separated by newlines or ';'.
func ParseInlineCurators(v, origin string) (*Curators, error) {
	return ParseCurators(strings.NewReader(strings.ReplaceAll(v, ";", "\n")), origin)
}

func parseCurator(line string) (*Curator, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return nil, fmt.Errorf("want NAME SCOPES HASH (3 fields), got %d fields", len(f))
	}
	name, scopes, hash := f[0], f[1], f[2]
	if !curatorName.MatchString(name) {
		return nil, fmt.Errorf("curator name %q: use lowercase letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit", name)
	}
	if why, ok := reservedNames[name]; ok {
		return nil, fmt.Errorf("curator name %q is reserved: %s", name, why)
	}
	c := &Curator{Name: name}
	for _, sc := range strings.Split(scopes, ",") {
		s := Scope(sc)
		if !slices.Contains(Scopes, s) {
			return nil, fmt.Errorf("curator %q: unknown scope %q (read, write or admin, comma-separated)", name, sc)
		}
		if !slices.Contains(c.scopes, s) {
			c.scopes = append(c.scopes, s)
		}
	}
	digest, ok := strings.CutPrefix(hash, HashPrefix)
	b, err := hex.DecodeString(digest)
	if !ok || err != nil || len(b) != sha256.Size {
		// The hash is not echoed: a token pasted in its place must not reach the log.
		return nil, fmt.Errorf("curator %q: the token hash must be %q and 64 hex digits (the SHA-256 of the token; `policygraph token` prints the line)", name, HashPrefix)
	}
	copy(c.digest[:], b)
	return c, nil
}
