// Package static serves files embedded in the binary: the pages, scripts,
// styles and vendored libraries of policygraph's browser front ends (the
// GraphiQL IDE and the explorer).
//
// An Asset answers GET and HEAD with a strong ETag (and 304 to a matching
// If-None-Match), the Cache-Control it was given, a Content-Type drawn from
// its name and "X-Content-Type-Options: nosniff". Text assets that shrink
// under compression are also sent gzip-compressed to clients that accept it.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Cache-Control values for assets.
const (
	// CacheImmutable is for files whose names carry a version: they never
	// change, so browsers may keep them for a year without asking again.
	CacheImmutable = "public, max-age=31536000, immutable"
	// CacheRevalidate is for everything else: browsers keep the file but
	// revalidate it, cheaply via its ETag, on every use.
	CacheRevalidate = "no-cache"
)

// octetStream is the Content-Type of a file whose extension is not known.
const octetStream = "application/octet-stream"

// contentTypes maps the extensions of the files policygraph embeds to their
// Content-Type. It is fixed rather than read from the system's MIME tables
// so that a file is served the same way on every machine.
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".md":   "text/markdown; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
}

// ContentType returns the Content-Type an Asset named name is served with:
// the type for its extension, or "application/octet-stream" if the
// extension is not one policygraph embeds.
func ContentType(name string) string {
	if ct, ok := contentTypes[path.Ext(name)]; ok {
		return ct
	}
	return octetStream
}

// minGzipSize is the size below which a file is not worth a gzip stream's
// overhead.
const minGzipSize = 1024

// Asset is one file served over HTTP. It is safe for concurrent use.
type Asset struct {
	name, contentType, cacheControl, etag string
	data                                  []byte

	gzipOnce sync.Once
	gzipData []byte // nil when compression does not pay
}

// NewAsset returns an Asset that serves data as the file name (whose
// extension sets the Content-Type, see ContentType) with the given
// Cache-Control header value, typically CacheImmutable or CacheRevalidate.
// The Asset keeps data; the caller must not change it afterwards.
func NewAsset(name string, data []byte, cacheControl string) *Asset {
	sum := sha256.Sum256(data)
	return &Asset{
		name:         name,
		contentType:  ContentType(name),
		cacheControl: cacheControl,
		etag:         `"` + hex.EncodeToString(sum[:12]) + `"`,
		data:         data,
	}
}

// Dir returns an Asset for every file under dir in fsys, keyed by its
// slash-separated path relative to dir (such as "vendor/lib-1.2.3.min.js").
// cacheControl chooses each file's Cache-Control value from that path.
func Dir(fsys fs.FS, dir string, cacheControl func(name string) string) (map[string]*Asset, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("assets in %s: %w", dir, err)
	}
	assets := make(map[string]*Asset)
	err = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			return err
		}
		assets[name] = NewAsset(name, data, cacheControl(name))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assets in %s: %w", dir, err)
	}
	return assets, nil
}

// ServeHTTP answers GET and HEAD with the asset, or with its gzip form if
// the asset has one and the request's Accept-Encoding allows gzip. The two
// forms have distinct ETags, and an asset with a gzip form always sends
// "Vary: Accept-Encoding". Other methods get 405 with "Allow: GET, HEAD".
func (a *Asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", a.cacheControl)
	hdr.Set("X-Content-Type-Options", "nosniff")
	body, etag := a.data, a.etag
	if gz := a.gzipped(); gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

// compressible reports whether the asset is worth trying to compress: text
// (a known type) of at least minGzipSize bytes.
func (a *Asset) compressible() bool {
	return len(a.data) >= minGzipSize && a.contentType != octetStream
}

// gzipped returns the asset's gzip form, built on first use, or nil if the
// asset has none: it is not compressible, or gzip saves less than a tenth.
func (a *Asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		if !a.compressible() {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		zw.Write(a.data)                                         // writes to a bytes.Buffer do not fail
		zw.Close()
		if buf.Len() < len(a.data)*9/10 {
			a.gzipData = buf.Bytes()
		}
	})
	return a.gzipData
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
