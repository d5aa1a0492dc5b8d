package storage

import "encoding/json"

// The record codec: how Node and Fact values are stored under their 'n' and 'f'
// keys. Every read and write of a record goes through these four functions.

func encodeNode(n *Node) ([]byte, error) { return json.Marshal(n) }

func decodeNode(b []byte) (*Node, error) {
	n := new(Node)
	if err := json.Unmarshal(b, n); err != nil {
		return nil, err
	}
	return n, nil
}

func encodeFact(f *Fact) ([]byte, error) { return json.Marshal(f) }

func decodeFact(b []byte) (*Fact, error) {
	f := new(Fact)
	if err := json.Unmarshal(b, f); err != nil {
		return nil, err
	}
	return f, nil
}
