package app

import (
	"net"
	"sync"

	"policygraph/api"
)

// limitConns bounds the connections ln hands out: at most n open at once
// (past it Accept waits, and new connections queue in the kernel's backlog,
// costing this process nothing), and at most a quarter of them from one client
// address (past that a new connection is closed at once), so that one client
// holding connections open cannot shut out the others. Each open connection
// costs memory (connBytes in the budget) whether or not it sends requests.
func limitConns(ln net.Listener, n int) net.Listener {
	if n <= 0 {
		return ln
	}
	return &connLimiter{Listener: ln, slots: make(chan struct{}, n), perClient: max(1, n/4), open: map[string]int{}}
}

type connLimiter struct {
	net.Listener
	slots     chan struct{}
	perClient int

	mu   sync.Mutex
	open map[string]int // open connections by client address
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		l.slots <- struct{}{}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		host := api.ClientAddress(c.RemoteAddr().String()) // as api counts requests
		l.mu.Lock()
		if l.open[host] >= l.perClient {
			l.mu.Unlock()
			c.Close()
			<-l.slots
			continue
		}
		l.open[host]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *connLimiter) release(host string) {
	l.mu.Lock()
	if l.open[host]--; l.open[host] <= 0 {
		delete(l.open, host)
	}
	l.mu.Unlock()
	<-l.slots
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	host string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}
