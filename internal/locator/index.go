package locator

import (
	"context"
	"errors"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"civico/internal/hours"
	"civico/internal/portineria"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// record is what search knows of a place, in its shard. A tombstone (Gone)
// keeps only the version at which the place left the shard.
type record struct {
	Ver   int64       `bson:"ver"`
	Gone  bool        `bson:"gone,omitempty"`
	AID   string      `bson:"a,omitempty"`
	Name  string      `bson:"n,omitempty"` // folded, the sort key
	Words []string    `bson:"w,omitempty"` // folded words of name, description, address, area
	Area  string      `bson:"ar,omitempty"`
	Tgt   []string    `bson:"t,omitempty"`
	Lat   *float64    `bson:"la,omitempty"`
	Lng   *float64    `bson:"lo,omitempty"`
	Hours *storedWeek `bson:"h,omitempty"`
	TZ    string      `bson:"tz,omitempty"`
	VerAt time.Time   `bson:"v"`
}

// stored is a record in its shard: the version (which conditional writes
// compare) beside the record packed as one binary value. The embedded
// engine decodes every value of a document it reads, slowly: a shard of
// packed records costs it three values per place instead of some fifty.
type stored struct {
	Ver  int64  `bson:"ver"`
	Gone bool   `bson:"gone,omitempty"`
	B    []byte `bson:"b,omitempty"`
}

type shardDoc struct {
	ID      string            `bson:"_id"`
	Records map[string]stored `bson:"e"`
}

// pack is r as its shard keeps it.
func pack(r record) (stored, error) {
	if r.Gone {
		return stored{Ver: r.Ver, Gone: true}, nil
	}
	b, err := bson.Marshal(r)
	return stored{Ver: r.Ver, B: b}, err
}

// shardID names the shard of a place of kind whose id is id.
func (s *Service) shardID(kind, id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return shardName(kind, int(h.Sum32()%uint32(s.buckets)))
}

func shardName(kind string, bucket int) string { return kind + "." + strconv.Itoa(bucket) }

// recordOf is the search record of d.
func recordOf(d placeDoc) record {
	r := record{Ver: d.Version, AID: d.AssociationID, Name: foldName(d.Name), Area: foldName(d.Area), Tgt: d.Targets,
		Lat: d.Lat, Lng: d.Lng, TZ: d.TimeZone, VerAt: d.VerifiedAt}
	seen := map[string]bool{}
	for _, text := range []string{d.Name, d.Description, d.Address, d.Area} {
		for _, w := range portineria.Words(text) {
			if !seen[w] {
				seen[w] = true
				r.Words = append(r.Words, w)
			}
		}
	}
	if !hours.Week(d.Hours).Empty() {
		h := d.Hours
		r.Hours = &h
	}
	return r
}

// foldName is the sort and match form of a name: its folded words.
func foldName(s string) string {
	w := portineria.Words(s)
	out := ""
	for i, x := range w {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// index writes d's search record, over any older one; oldKind, when the
// place moved from another kind, gets a tombstone.
func (s *Service) index(ctx context.Context, d placeDoc, oldKind string) error {
	id := d.ID.Hex()
	if err := s.put(ctx, s.shardID(d.Kind, id), id, recordOf(d)); err != nil {
		return err
	}
	if oldKind != "" && oldKind != d.Kind {
		return s.bury(ctx, oldKind, id, d.Version)
	}
	return nil
}

// bury leaves a tombstone of version ver for id in its shard of kind.
func (s *Service) bury(ctx context.Context, kind, id string, ver int64) error {
	return s.put(ctx, s.shardID(kind, id), id, record{Ver: ver, Gone: true})
}

// put writes r as id's record in shard, unless the shard holds a record of
// the same or a later version: writers that finish out of order never
// bring back an older record.
func (s *Service) put(ctx context.Context, shard, id string, r record) error {
	return s.putMany(ctx, shard, map[string]record{id: r})
}

// putMany writes the records recs (id → record) in shard as put writes
// one, in one conditional `$set` of them all: the write applies only when
// none of them meets a record of the same or a later version. When one
// does, the shard is read, the records it already holds as new or newer
// are left out, and the others are written again; the shard is made with
// them when it does not exist yet.
func (s *Service) putMany(ctx context.Context, shard string, recs map[string]record) error {
	ids := slices.Sorted(maps.Keys(recs))
	packed := make(map[string]stored, len(recs))
	for _, id := range ids {
		sr, err := pack(recs[id])
		if err != nil {
			return err
		}
		packed[id] = sr
	}
	for range maxTries {
		if len(ids) == 0 {
			return nil
		}
		conds := make(bson.A, len(ids))
		set := make(bson.D, len(ids))
		for i, id := range ids {
			key := "e." + id
			conds[i] = bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: key, Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: key + ".ver", Value: bson.D{{Key: "$lt", Value: recs[id].Ver}}}},
			}}}
			set[i] = bson.E{Key: key, Value: packed[id]}
		}
		filter := bson.D{{Key: "_id", Value: shard}, {Key: "$and", Value: conds}}
		res, err := s.search.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 1 {
			return nil
		}
		var doc struct {
			Records map[string]struct {
				Ver int64 `bson:"ver"`
			} `bson:"e"`
		}
		err = s.search.FindOne(ctx, bson.M{"_id": shard}, &doc)
		switch {
		case err == nil:
			// A later version of some is there: write the others.
			ids = slices.DeleteFunc(ids, func(id string) bool {
				old, ok := doc.Records[id]
				return ok && old.Ver >= recs[id].Ver
			})
			continue
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		all := make(map[string]stored, len(ids))
		for _, id := range ids {
			all[id] = packed[id]
		}
		_, err = s.search.InsertOne(ctx, shardDoc{ID: shard, Records: all})
		if err == nil {
			return nil
		}
		if !store.IsDuplicate(err) {
			return err
		}
		// Another writer made the shard first: set the records in it.
	}
	return ErrPlaceBusy
}

// shardWrites gathers search records by shard (shard → id → record), for
// writeShards.
type shardWrites map[string]map[string]record

func (w shardWrites) add(shard, id string, r record) {
	if w[shard] == nil {
		w[shard] = map[string]record{}
	}
	if old, ok := w[shard][id]; !ok || old.Ver < r.Ver {
		w[shard][id] = r
	}
}

// stage adds what index writes for d: its record and, when it moved from
// oldKind, a tombstone there.
func (s *Service) stage(w shardWrites, d placeDoc, oldKind string) {
	id := d.ID.Hex()
	w.add(s.shardID(d.Kind, id), id, recordOf(d))
	if oldKind != "" && oldKind != d.Kind {
		w.add(s.shardID(oldKind, id), id, record{Ver: d.Version, Gone: true})
	}
}

// writeShards writes w, one putMany per shard, a few shards at a time.
func (s *Service) writeShards(ctx context.Context, w shardWrites) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 4)
	for shard, recs := range w {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.putMany(ctx, shard, recs); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// hit is a search record that passed the filters.
type hit struct {
	id   string
	kind string
	r    record
	dist float64
	open bool
}

// scan reads the shards of kinds (all kinds when empty) and calls keep on
// every live record; reads run a few at a time.
func (s *Service) scan(ctx context.Context, kinds []string, keep func(kind, id string, r record)) error {
	if len(kinds) == 0 {
		kinds = Kinds
	}
	type job struct{ kind, shard string }
	var jobs []job
	for _, k := range kinds {
		for b := range s.buckets {
			jobs = append(jobs, job{k, shardName(k, b)})
		}
	}
	docs := make([]shardDoc, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := s.search.FindOne(ctx, bson.M{"_id": j.shard}, &docs[i])
			if !errors.Is(err, store.ErrNotFound) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, d := range docs {
		for id, sr := range d.Records {
			if sr.Gone {
				continue
			}
			var r record
			if err := bson.Unmarshal(sr.B, &r); err != nil {
				return err
			}
			keep(jobs[i].kind, id, r)
		}
	}
	return nil
}

// readPlaces reads the places of ids by _id, a few at a time, in order;
// a place deleted meanwhile is left out.
func (s *Service) readPlaces(ctx context.Context, ids []string) ([]placeDoc, error) {
	docs := make([]placeDoc, len(ids))
	found := make([]bool, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := s.load(ctx, id)
			switch {
			case err == nil:
				docs[i], found[i] = d, true
			case !errors.Is(err, ErrPlaceNotFound):
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := docs[:0]
	for i, d := range docs {
		if found[i] {
			out = append(out, d)
		}
	}
	return out, nil
}
