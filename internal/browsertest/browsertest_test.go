package browsertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"policygraph/internal/browsertest"
)

func TestIsExternal(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080/graphql":     false,
		"http://127.9.9.9/":                 false,
		"http://localhost:1234/ide/x.js":    false,
		"https://app.localhost/":            false,
		"http://[::1]:80/":                  false,
		"data:text/plain,hi":                false,
		"blob:http://127.0.0.1/abc":         false,
		"about:blank":                       false,
		"https://cdn.jsdelivr.net/npm/x.js": true,
		"https://fonts.googleapis.com/css":  true,
		"http://10.0.0.1/":                  true,
		"ws://example.invalid/socket":       true,
		"http://localhost.example.invalid/": true,
	} {
		if got := browsertest.IsExternal(u); got != want {
			t.Errorf("IsExternal(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestHarness checks, on a page of its own, that the harness records console
// errors, exceptions and blocked external requests, and that a clean page
// records none.
func TestHarness(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/clean", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><link rel="icon" href="data:,"><title>clean</title><h1 id="done">ok</h1>`))
	})
	mux.HandleFunc("/dirty", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// example.invalid never resolves; the harness blocks it before that.
		w.Write([]byte(`<!DOCTYPE html><link rel="icon" href="data:,"><title>dirty</title>
<img src="http://example.invalid/pixel.png" alt="">
<script>
console.error("something broke", 42);
setTimeout(function () { document.body.insertAdjacentHTML("beforeend", '<p id="done">done</p>'); throw new Error("boom"); }, 0);
</script>`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx := browsertest.New(t)
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	if err := chromedp.Do(step, chromedp.Navigate(srv.URL+"/clean"), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatal(err)
	}
	if errs := browsertest.ConsoleErrors(ctx); len(errs) != 0 {
		t.Errorf("clean page: console errors %q", errs)
	}
	if reqs := browsertest.ExternalRequests(ctx); len(reqs) != 0 {
		t.Errorf("clean page: external requests %q", reqs)
	}
	p := browsertest.Screenshot(t, ctx, "browsertest-clean")
	if b, err := os.ReadFile(p); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("screenshot %s is not a PNG (err %v)", p, err)
	}

	if err := chromedp.Do(step, chromedp.Navigate(srv.URL+"/dirty"), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatal(err)
	}
	// The image load and the exception are asynchronous: poll briefly.
	deadline := time.Now().Add(10 * time.Second)
	var errs, reqs []string
	for {
		errs, reqs = browsertest.ConsoleErrors(ctx), browsertest.ExternalRequests(ctx)
		joined := strings.Join(errs, "\n")
		if (strings.Contains(joined, "something broke 42") && strings.Contains(joined, "boom") && len(reqs) > 0) ||
			time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	joined := strings.Join(errs, "\n")
	for _, want := range []string{"console.error: something broke 42", "uncaught exception:", "boom"} {
		if !strings.Contains(joined, want) {
			t.Errorf("console errors lack %q; got:\n%s", want, joined)
		}
	}
	if len(reqs) != 1 || reqs[0] != "GET http://example.invalid/pixel.png" {
		t.Errorf("external requests = %q, want the blocked pixel", reqs)
	}
}

// TestMissingBrowserSkips runs New with POLICYGRAPH_CHROME naming no file:
// New must skip (it calls t.Skip, which ends the subtest via runtime.Goexit).
func TestMissingBrowserSkips(t *testing.T) {
	t.Setenv(browsertest.EnvChrome, "/nonexistent/chromium")
	t.Setenv(browsertest.EnvRequireBrowser, "")
	ran := false
	t.Run("inner", func(t *testing.T) {
		browsertest.New(t)
		ran = true
	})
	if ran {
		t.Fatal("New returned without a browser")
	}
}

// TestDownloads checks that a file a page downloads lands, complete and
// under its own name, in the directory Downloads returns.
func TestDownloads(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!DOCTYPE html><link rel="icon" href="data:,"><title>download</title>
<a id="get" download="hello.csv" href="data:text/csv,a%2Cb%0D%0A1%2C2%0D%0A">get</a>`))
	}))
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	dir := browsertest.Downloads(t, ctx)
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(srv.URL), chromedp.Click(chromedp.ID("get"))); err != nil {
		t.Fatal(err)
	}
	if got := string(browsertest.WaitDownload(t, dir, "hello.csv", 20*time.Second)); got != "a,b\r\n1,2\r\n" {
		t.Errorf("downloaded %q", got)
	}
}
