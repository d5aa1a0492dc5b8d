// Package memgraph is the graph's read model in memory: every record and
// index of one version of the graph, compact enough to hold a million
// entities in well under 2 GiB, in immutable snapshots that readers take
// without locks while one writer applies the changes of the store's log in
// version order (issue 11).
//
// The package implements storage's read-model interfaces (storage/readmodel.go):
// a *Model is a storage.ReadModel, a *Snapshot a storage.Snapshot and a
// storage.Sizer that answer exactly as the store's own snapshot does
// (TestModelAnswersAsTheStore asks both every question), a *Draft a
// storage.Draft, and Load a storage.ModelLoader.
//
// # Versions
//
// A Model is built at version V from a full set of records (Builder, or
// Load: the cold start from a store scan) and advanced by Apply, one
// storage.Change at a time: the records a committed write put, whole, and
// its version, which must be V+1 (versions are dense; a gap is a lost
// change, and is refused). Each Apply publishes a new Snapshot;
// Model.Snapshot (Latest, typed) returns the latest. A Snapshot answers
// every question from its version, however many changes follow: a request
// takes one and reads only from it.
//
// # Drafts
//
// A write is validated against a Draft: a private continuation of the
// latest snapshot, into which Put applies records exactly as Apply would
// (same checks, same indexes), on its own copy of the overlay (below), so
// its reads see them and nothing else does. Fork copies a draft in O(1).
// A draft keeps the generation it began on (a compaction does not disturb
// it) and extends the generation's dictionary and text blobs privately.
// Drafts are never merged back: the committed write comes back as a Change.
//
// # Revisions
//
// An entity's revisions (one per update) are few and read rarely: they are
// kept whole, by (entity, seq), in a copy-on-write B-tree of their own that
// every generation shares (revisions.go).
//
// # Generations: a base and an overlay
//
// A snapshot is a base, large and immutable, built once, plus an overlay,
// small and copy-on-write, of what changed since. The overlay is one B-tree
// (github.com/tidwall/btree) whose Copy is O(1): publishing a snapshot
// copies the tree's root, and the writer's next change copies only the
// paths it changes. Applying a change so costs about its size (a few
// B-tree paths per key it touches), not the graph's. When the overlay
// outgrows a share of the base (Options.CompactAt), a background
// compaction builds a new base from the latest snapshot's records (as the
// cold start does), then takes the writer's lock, replays the changes
// applied meanwhile onto it, and publishes: readers of older snapshots keep
// the old generation until they let go of it.
//
// # Internal IDs
//
// Entities and facts have 32-bit internal IDs (iids), apart: a base's are
// the positions of its IDs in UUID order (so iid order is ID order, as in
// the store's keys); those new since the base are numbered on from there.
// Records refer to entities by iid.
//
// # The base, array by array
//
// Everything below is a slice of fixed-size values or bytes: no pointer per
// record, so the collector has almost nothing to scan.
//
//	nodes.ids    [n]uuid          entity IDs, sorted: iid = position
//	nodes.bucket [65537]uint32    first position whose ID starts with each 2-byte prefix:
//	                              a lookup searches ~n/65536 IDs, from where the ID's
//	                              next two bytes place it (random IDs spread evenly)
//	nodes.off    [n]uint32        where each record starts in nodes.slab
//	nodes.slab   []byte           records, each a uvarint length and the record (below)
//	facts.*                       the same for facts
//	adjStart[d]  [n+1]uint32      d = 0 out (the entity is the subject), 1 in (the object):
//	                              entity i's entries are adjStart[d][i] to adjStart[d][i+1],
//	                              in (predicate, fact ID) order, as three parallel arrays:
//	adjFact[d]   []uint32         the fact's iid
//	adjOther[d]  []uint32         the entity at the other end (0xFFFFFFFF: a literal fact)
//	adjPS[d]     []uint8          predicate<<2 | state (0 active, 1 negated, 2 retracted)
//	folds        []byte           every name, label and alias of every entity not
//	                              retracted, folded (storage.Fold), each as '^' name 0x00
//	kinds[k]     []{pos, iid}     entities of kind k not retracted, by (folded name, ID);
//	                              pos: their name's '^' in folds
//	nodeYears[k] []{iid, year}    the same with a year, by (year, ID)
//	names        []{pos, iid}     the search index, by (term, ID): a term is the text in
//	                              folds from pos to the next 0x00, either a '^' (the whole
//	                              name, anchored) or a word start after a space
//	slugs        []{hash32, iid}  by hash of the slug; a hit is checked against the record
//	preds[p]     []uint32         active facts of predicate p, by ID
//	factYears[p] []{iid, year}    the same with a year, by (year, ID)
//	walk[p]      []{iid, year, name}  the facts of factYears[p] by (year, subject's folded
//	                              name, ID): the walk index (walk.go); name is the '^' of
//	                              the subject's name in folds. Made at a build and a load.
//	wholeRanks   []uint32         for each whole-name ('^') term of names, from wholeAt
//	                              on, its entity's place by (name length, name, ID), a
//	                              search's order within a score, with a sparse table of
//	                              the smallest rank over blocks of 64 (topk.go's rankMin).
//	                              Made likewise.
//	values[p]    []{value, fact, subject}  active literal facts (COUNTRY = "US"), by
//	                              (value, fact ID); value is a dictionary ID
//	texts        []{node, blob}   each source's text, by entity
//	saved        []*SavedQuery    by name (few)
//
// Predicates are one byte, their position in the predicates sorted by name
// (so their order is the store's key order); kinds are one byte too.
//
// # Records, byte by byte
//
// Strings are a uvarint length and their bytes; "dict" is a uvarint ID in
// the generation's dictionary of categorical strings (types, tiers, country
// codes, languages, authors; ID 0 is ""); integers are varints; a time is
// its MarshalBinary form (what the store keeps) re-packed: a header (bits
// 0-1 version, bit 2 nanoseconds follow, bit 3 a zone offset follows), the
// seconds from 2020 as a varint, then the parts present. Optional parts are
// present only when their bit of the record's mask is set.
//
//	entity: kind(1) slug name mask(uvarint)
//	        [labels: count, (lang dict, text)...] [aliases: count, str...]
//	        [description] [year] [orgType placeType code productType status programme: dict x6]
//	        [title titleEn author publisher(dict) publisherNote language(dict) url]
//	        [publishedAt] createdAt [updatedAt, when not createdAt] [createdBy dict]
//	        [retraction: by(dict) at reason]
//	fact:   pred(1) subject(iid) mask(uvarint)
//	        [object iid] [value dict] [measure dict]
//	        [quantity: bits(1), amount (varint if whole, else 8 bytes), [upper 8 bytes], [bound dict], [unit dict]]
//	        [tier dict] [role] [date] [start] [end] [year]  (former, negated: mask bits)
//	        evidence count, each: bits(1), source (iid, or 16 bytes for no entity),
//	        quote (blob, offset, length: a span of the source's text; or the string),
//	        [gloss] [note]
//	        createdAt [createdBy dict] [retraction] [disputedBy: count, 16 bytes each]
//	date:   year month day precision(dict)
//
// An evidence quote is a verbatim substring of its source's text, so it is
// kept as a span of the text's blob: texts are immutable blobs, and a
// replaced text gets a new one, so old spans stay right. The ID of a record
// is not in it: it is the key that found it. Decoding gives exactly what
// the store's codec gives for the same record (TestCodecMatchesStore), and
// its strings point into the record, which is never modified, instead of
// being copied.
//
// # The overlay
//
// The overlay's keys follow the store's key layout (see overlay.go): one
// prefix byte per kind of key, then the index's fields, so byte order is
// the index's order, and UUIDs where the base has iids, so that entries
// new since the base sort among the base's. An entry either sets a key
// (a record, an index entry, a slug) or deletes it (del); it overrides the
// base's entry with the same key. A scan merges the base's range with the
// overlay's, and costs nothing more when the overlay has nothing in range.
//
// # Files
//
// A snapshot can be written to a file and read back (persist.go; Files,
// files.go, keeps a store's files in a directory: storage.ModelCache): the
// base's arrays and slabs as they lie in memory, the dictionary, blobs,
// overlay entries, revisions and counts, checksummed. Reading one is a read
// into one buffer that the arrays and strings point into, no record
// decoded; only the slug index (its hash's seed is the process's) is made
// again. A start so reads a million entities in half a second instead of
// building them from the store in twenty-five (docs/read-model.md, "Cold
// start").
//
// # Counts
//
// Sizes are kept as changes apply (entities by kind, facts, active facts by
// predicate, country holders, the longest text), as storage.Graph.Sizes
// reports them.
package memgraph
