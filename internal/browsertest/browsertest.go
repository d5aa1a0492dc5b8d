// Package browsertest runs a headless Chromium for tests, through chromedp.
//
// [New] starts a browser for one test and returns a chromedp context for a
// fresh tab. While the test runs, the harness records the page's console
// errors, uncaught exceptions and browser-log errors ([ConsoleErrors]), and
// blocks every request to a host that is not loopback, recording it
// ([ExternalRequests]). A test that asserts both are empty proves that the
// page works, error-free, with no network.
//
// Finding the browser: $POLICYGRAPH_CHROME, if set, is the only candidate (set
// it to a path that does not exist, e.g. POLICYGRAPH_CHROME=/nonexistent, to
// simulate a machine without Chromium). Otherwise the first executable of
// $CHROME_PATH, /usr/bin/chromium, and chromium, chromium-browser,
// google-chrome, google-chrome-stable in $PATH. Without a browser, New skips
// the test, or fails it when POLICYGRAPH_REQUIRE_BROWSER=1 (as CI should set
// once it installs Chromium with `apt-get install -y chromium`).
//
// Screenshots go to $POLICYGRAPH_ARTIFACTS when it is set, else to the test's
// temporary directory (removed when the test ends).
//
// A typical test:
//
//	ctx := browsertest.New(t)
//	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
//		t.Fatal(err)
//	}
//	browsertest.Screenshot(t, ctx, "home")
//	if errs := browsertest.ConsoleErrors(ctx); len(errs) > 0 {
//		t.Errorf("console errors: %q", errs)
//	}
//	if reqs := browsertest.ExternalRequests(ctx); len(reqs) > 0 {
//		t.Errorf("external requests: %q", reqs)
//	}
//
// The context has no deadline of its own: bound each step with
// context.WithTimeout(ctx, …), which leaves the browser running when the
// step times out (see chromedp's docs/API.md, "Set a timeout for one action").
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Environment variables that the harness reads.
const (
	// EnvChrome, when set, names the only browser binary to use; a value that
	// is not an executable file means "no browser" (useful to test skipping).
	EnvChrome = "POLICYGRAPH_CHROME"
	// EnvChromePath is the conventional variable naming a Chrome binary.
	EnvChromePath = "CHROME_PATH"
	// EnvRequireBrowser set to 1 turns a missing browser into a test failure.
	EnvRequireBrowser = "POLICYGRAPH_REQUIRE_BROWSER"
	// EnvArtifacts names the directory that receives screenshots.
	EnvArtifacts = "POLICYGRAPH_ARTIFACTS"
)

// startTimeout bounds the browser's start-up.
const startTimeout = 60 * time.Second

// hostResolverRules makes every host name but the loopback ones fail to
// resolve, so that even the browser's own background traffic (which the
// request interception of a tab does not see) cannot leave the machine.
const hostResolverRules = "MAP * ~NOTFOUND , EXCLUDE localhost, EXCLUDE 127.0.0.1"

type recorderKey struct{}

// recorder collects what the listeners saw, for the accessors.
type recorder struct {
	mu       sync.Mutex
	errors   []string
	external []string
}

func (r *recorder) addError(s string) {
	r.mu.Lock()
	r.errors = append(r.errors, s)
	r.mu.Unlock()
}

func (r *recorder) addExternal(s string) {
	r.mu.Lock()
	r.external = append(r.external, s)
	r.mu.Unlock()
}

// New starts headless Chromium for a test and returns a chromedp context; it is cancelled at test cleanup.
// Where no Chromium is found it calls t.Skip with a clear message naming the missing binary and how to install it
// (apt-get install -y chromium) — unless POLICYGRAPH_REQUIRE_BROWSER=1, in which case it calls t.Fatal instead.
//
// The browser runs with a fresh profile in a temporary directory, a
// 1280x900 window, and flags that stop its background network traffic. Every
// request of the tab to a non-loopback host is failed and recorded (see
// [ExternalRequests]); console errors and uncaught exceptions are recorded
// too (see [ConsoleErrors]).
func New(t testing.TB) context.Context {
	t.Helper()
	bin, why := findChrome()
	if bin == "" {
		msg := "browsertest: no Chromium found (" + why + "); install it with `apt-get install -y chromium` " +
			"or point " + EnvChromePath + " at a Chrome/Chromium binary"
		if os.Getenv(EnvRequireBrowser) == "1" {
			t.Fatal(msg + " [" + EnvRequireBrowser + "=1, so this is a failure]")
		}
		t.Skip(msg + " [set " + EnvRequireBrowser + "=1 to fail instead of skip]")
	}

	var output syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", hostResolverRules),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	rec := &recorder{}
	ctx = context.WithValue(ctx, recorderKey{}, rec)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // also waits for the browser to exit
		if t.Failed() && output.Len() > 0 {
			t.Logf("browsertest: output of %s:\n%s", bin, output.String())
		}
	})

	// Start the browser with ctx itself, not a derived context with a
	// deadline: the first run binds the browser's life to its context.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v\n%s", bin, err, output.String())
		}
	case <-time.After(startTimeout):
		cancelAlloc()
		t.Fatalf("browsertest: %s did not start within %v\n%s", bin, startTimeout, output.String())
	}

	if err := chromedp.Listen(ctx, func(ev any) { record(ctx, rec, ev) }); err != nil {
		t.Fatalf("browsertest: listening to the browser: %v", err)
	}
	// Pause every request of the tab; record(...) lets loopback ones go on.
	setup, cancelSetup := context.WithTimeout(ctx, startTimeout)
	defer cancelSetup()
	_, err := chromedp.Call(setup, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*"}},
	})
	if err != nil {
		t.Fatalf("browsertest: enabling request interception: %v", err)
	}
	return ctx
}

// record handles one event of the tab. It runs on chromedp's read loop, so it
// must not block or call the browser itself.
func record(ctx context.Context, rec *recorder, ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			rec.addError(fmt.Sprintf("console.%s: %s", ev.Type, argsText(ev.Args)))
		}
	case *runtime.EventExceptionThrown:
		rec.addError("uncaught exception: " + exceptionText(ev.ExceptionDetails))
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && e.Level == log.EntryLevelError {
			s := fmt.Sprintf("browser log (%s): %s", e.Source, e.Text)
			if e.URL != "" {
				s += " [" + e.URL + "]"
			}
			rec.addError(s)
		}
	case *fetch.EventRequestPaused:
		id, u := ev.RequestID, ""
		method := "GET"
		if ev.Request != nil {
			u, method = ev.Request.URL, ev.Request.Method
		}
		external := IsExternal(u)
		if external {
			rec.addExternal(method + " " + u)
		}
		go func() {
			var err error
			if external {
				_, err = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{
					RequestID: id, ErrorReason: network.ErrorReasonBlockedByClient,
				})
			} else {
				_, err = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
			}
			if err != nil && ctx.Err() == nil {
				rec.addError(fmt.Sprintf("browsertest: answering the paused request %s: %v", u, err))
			}
		}()
	}
}

// IsExternal reports whether a request to rawURL would leave the machine: it
// has a host that is neither localhost (or a *.localhost name) nor a loopback
// IP address. URLs without a host, such as data: and blob: URLs, are not
// external.
func IsExternal(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// ConsoleErrors returns what the page of ctx (a context from [New]) reported
// as errors so far, in order: console.error and failed console.assert calls,
// uncaught exceptions and unhandled rejections, and error entries of the
// browser log (failed loads, Content-Security-Policy violations, …).
//
// Events reach the harness on chromedp's read loop before the reply to any
// later command, so after an action has returned, the errors it caused are
// included.
func ConsoleErrors(ctx context.Context) []string {
	rec := recorderFrom(ctx)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.errors...)
}

// ExternalRequests returns the requests (as "METHOD URL") that the page of
// ctx (a context from [New]) tried to send to a non-loopback host. Each was
// blocked.
func ExternalRequests(ctx context.Context) []string {
	rec := recorderFrom(ctx)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.external...)
}

func recorderFrom(ctx context.Context) *recorder {
	rec, ok := ctx.Value(recorderKey{}).(*recorder)
	if !ok {
		panic("browsertest: the context does not come from browsertest.New")
	}
	return rec
}

// Screenshot saves a full-page PNG of the page of ctx (a context from [New])
// as name.png, and returns its path. The directory is $POLICYGRAPH_ARTIFACTS
// when it is set (created if needed; name should then be unique across the
// packages that share it), else the test's temporary directory. Errors fail
// the test.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	if name == "" || name != filepath.Base(name) || strings.ContainsAny(name, `/\`) {
		t.Fatalf("browsertest: invalid screenshot name %q", name)
	}
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 means PNG
	if err != nil {
		t.Fatalf("browsertest: screenshot %q: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	t.Logf("browsertest: screenshot saved to %s", p)
	return p
}

// Downloads makes the browser of ctx (a context from [New]) save the files
// its pages download into a new directory, under the names the pages give
// them, and returns that directory. Wait for a file with [WaitDownload].
func Downloads(t testing.TB, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	})
	if err != nil {
		t.Fatalf("browsertest: allowing downloads: %v", err)
	}
	return dir
}

// WaitDownload waits up to timeout for the download named name to be
// complete in dir (a directory from [Downloads]) and returns its content.
// Chromium writes a download as name.crdownload and renames it when done.
func WaitDownload(t testing.TB, dir, name string, timeout time.Duration) []byte {
	t.Helper()
	p := filepath.Join(dir, name)
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(p); err == nil {
			if _, err := os.Stat(p + ".crdownload"); os.IsNotExist(err) {
				return b
			}
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("browsertest: no download %s in %s after %v (it holds %q)", name, dir, timeout, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findChrome returns the browser binary to use, or "" and a description of
// where it looked.
func findChrome() (bin, looked string) {
	if v, ok := os.LookupEnv(EnvChrome); ok {
		if isExecutable(v) {
			return v, ""
		}
		return "", fmt.Sprintf("%s=%q is not an executable file", EnvChrome, v)
	}
	var tried []string
	if v := os.Getenv(EnvChromePath); v != "" {
		if isExecutable(v) {
			return v, ""
		}
		tried = append(tried, fmt.Sprintf("%s=%q", EnvChromePath, v))
	} else {
		tried = append(tried, "$"+EnvChromePath+" (unset)")
	}
	if isExecutable("/usr/bin/chromium") {
		return "/usr/bin/chromium", ""
	}
	tried = append(tried, "/usr/bin/chromium")
	names := []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, ""
		}
	}
	tried = append(tried, strings.Join(names, ", ")+" in $PATH")
	return "", "looked at " + strings.Join(tried, ", ")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// argsText renders console arguments roughly as DevTools does.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, remoteText(a))
	}
	return strings.Join(parts, " ")
}

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	if o.UnserializableValue != "" {
		return string(o.UnserializableValue)
	}
	if o.Description != "" {
		return o.Description
	}
	return string(o.Type)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	s := d.Text
	if d.Exception != nil {
		if desc := remoteText(d.Exception); desc != "" {
			s += " " + desc
		}
	}
	if d.URL != "" {
		s += fmt.Sprintf(" at %s:%d:%d", d.URL, d.LineNumber+1, d.ColumnNumber+1)
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for the browser's output goroutine and
// the test's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
