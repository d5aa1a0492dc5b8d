package storage

// Exported forms of the record codec (codec.go), for packages that hold
// records outside the KV: the in-memory read model (storage/memgraph) loads
// the records a store scan hands it in this form, and checks that it gives
// back what the store would.

// EncodeNode encodes n as the store keeps it under its node key.
func EncodeNode(n *Node) ([]byte, error) { return encodeNode(n) }

// DecodeNode decodes a node record (either format: compact binary, or the
// JSON of format 1).
func DecodeNode(b []byte) (*Node, error) { return decodeNode(b) }

// EncodeFact encodes f as the store keeps it under its fact key.
func EncodeFact(f *Fact) ([]byte, error) { return encodeFact(f) }

// DecodeFact decodes a fact record (either format).
func DecodeFact(b []byte) (*Fact, error) { return decodeFact(b) }

// EncodeRevision encodes r as the store keeps it under its revision key.
func EncodeRevision(r *Revision) ([]byte, error) { return encodeRevision(r) }

// DecodeRevision decodes a revision record.
func DecodeRevision(b []byte) (*Revision, error) { return decodeRevision(b) }
