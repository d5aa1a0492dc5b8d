package app

import (
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"policygraph/api"
	"policygraph/storage"
)

// clusterConfig is how a server keeps up with a store other servers write
// (a Shared store such as etcd), and the consistency it offers its clients.
type clusterConfig struct {
	followPoll     time.Duration
	minVersionWait time.Duration
	maxLag         int64
	maxStaleness   time.Duration
}

// clusterFlags defines the cluster's flags, each with an environment fallback.
func clusterFlags(fs *flag.FlagSet, env *envDefaults, c *clusterConfig) {
	fs.DurationVar(&c.followPoll, "follow-poll", env.duration("POLICYGRAPH_FOLLOW_POLL", storage.DefaultFollowPoll), "on a store other servers write (etcd), read its head this often besides the store's own wake-ups, and catch up with it (env POLICYGRAPH_FOLLOW_POLL)")
	fs.DurationVar(&c.minVersionWait, "min-version-wait", env.duration("POLICYGRAPH_MIN_VERSION_WAIT", api.DefaultMinVersionWait), "how long a request with Policygraph-Min-Version waits for this server to reach that version before 503 VERSION_NOT_REACHED (env POLICYGRAPH_MIN_VERSION_WAIT)")
	fs.Int64Var(&c.maxLag, "max-lag", env.int64("POLICYGRAPH_MAX_LAG", 1000), "on a store other servers write, /readyz says not ready while the read model is more than this many versions behind the store's head; 0: no bound (env POLICYGRAPH_MAX_LAG)")
	fs.DurationVar(&c.maxStaleness, "max-staleness", env.duration("POLICYGRAPH_MAX_STALENESS", 10*time.Second), "on a store other servers write, /readyz says not ready when the store has not been reached for longer than this; 0: no bound (env POLICYGRAPH_MAX_STALENESS)")
}

// check refuses settings that make no sense.
func (c clusterConfig) check() error {
	if c.followPoll <= 0 || c.minVersionWait < 0 || c.maxLag < 0 || c.maxStaleness < 0 {
		return fmt.Errorf("-follow-poll %s must be positive, -min-version-wait %s, -max-lag %d and -max-staleness %s not negative",
			c.followPoll, c.minVersionWait, c.maxLag, c.maxStaleness)
	}
	return nil
}

// readiness says whether the server keeps up with its store: on a shared
// store, not while its model is more than maxLag versions behind the head
// it has seen, nor when it has not reached the store for maxStaleness. It
// returns the reason it is not ready ("" when it is). Reads go on either way.
func (c clusterConfig) readiness(st storage.FollowState, now time.Time) (status, reason string) {
	if !st.Shared {
		return "", ""
	}
	if c.maxLag > 0 && st.Lag() > uint64(c.maxLag) {
		return "behind", fmt.Sprintf("the read model is at version %d, %d versions behind the store's head %d (-max-lag %d)", st.Model, st.Lag(), st.StoreHead, c.maxLag)
	}
	if c.maxStaleness > 0 && (st.LastContact.IsZero() || now.Sub(st.LastContact) > c.maxStaleness) {
		reason := fmt.Sprintf("the store has not been reached for more than %s (-max-staleness); answering at version %d", c.maxStaleness, st.Model)
		if st.LastError != nil {
			reason += ": " + st.LastError.Error()
		}
		return "cut off", reason
	}
	return "", ""
}

// readyBody is /readyz's answer.
func readyBody(status, reason string, version uint64) []byte {
	b, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Reason  string `json:"reason,omitempty"`
		Version uint64 `json:"version"`
	}{status, reason, version})
	return append(b, '\n')
}
