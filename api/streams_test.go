package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestStreamsAdmit(t *testing.T) {
	s := NewStreams(StreamOptions{MaxStreams: 3, MaxStreamsPerClient: 2})
	a1, ok1 := s.Admit("a")
	_, ok2 := s.Admit("a")
	if _, ok := s.Admit("a"); !ok1 || !ok2 || ok {
		t.Fatalf("a third stream of one client: admitted %v %v %v", ok1, ok2, ok)
	}
	if _, ok := s.Admit("b"); !ok {
		t.Fatal("another client's first stream refused")
	}
	if _, ok := s.Admit("c"); ok {
		t.Fatal("a fourth stream in all admitted")
	}
	a1()
	a1() // twice: one slot back, not two
	if s.Open() != 3-1 {
		t.Fatalf("%d open after one release", s.Open())
	}
	if _, ok := s.Admit("c"); !ok {
		t.Fatal("the released slot did not come back")
	}
	if _, ok := s.Admit("c"); ok {
		t.Fatal("a released slot counted twice")
	}
}

func TestStreamEnds(t *testing.T) {
	stopping, stop := context.WithCancel(context.Background())
	s := NewStreams(StreamOptions{Lifetime: 50 * time.Millisecond, Stopping: stopping})
	start := func() *Stream {
		t.Helper()
		st, ok := s.Start(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/changes", nil))
		if !ok {
			t.Fatal("refused")
		}
		t.Cleanup(st.Close)
		return st
	}
	life := start()
	<-life.Context().Done()
	if !errors.Is(life.Ended(), ErrLifetime) {
		t.Fatalf("ended by %v, want the lifetime", life.Ended())
	}
	s.o.Lifetime = 0
	down := start()
	stop()
	<-down.Context().Done()
	if !errors.Is(down.Ended(), ErrShuttingDown) {
		t.Fatalf("ended by %v, want the shutdown", down.Ended())
	}
	down.Close()
	if s.Open() != 1 {
		t.Fatalf("%d open, want the lifetime's alone", s.Open())
	}
}

func TestStreamWriteFlushes(t *testing.T) {
	s := NewStreams(StreamOptions{WriteTimeout: time.Second})
	rec := httptest.NewRecorder()
	st, _ := s.Start(rec, httptest.NewRequest(http.MethodGet, "/changes", nil))
	defer st.Close()
	if err := st.Write([]byte("{}\n")); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed || rec.Body.String() != "{}\n" {
		t.Fatalf("flushed %v, body %q", rec.Flushed, rec.Body)
	}
}
