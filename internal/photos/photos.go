// Package photos keeps the images of posts and replies: an upload is
// decoded (its header first: more than MaxPixels is refused before a
// pixel is decoded), re-encoded as JPEG at two sizes, which leaves every
// metadata block of the original behind (EXIF GPS above all: a photo
// taken at home must not publish the home's coordinates), and stored in
// the database, so that every process serves it.
//
// The bytes are chunk documents of photo_bytes addressed by _id
// ("<photo>:<size>:<n>", each under chunkSize): the embedded engine
// answers an _id equality without scanning, where GridFS would read
// chunks by files_id, a scan. A photo's record (photos, by _id) says whose
// it is, in which street, its sizes and what it is attached to. The
// chunks are written before the record and deleted before it, so a record
// always names chunks that exist, or is on its way out ("deleted").
//
// Images are served only to active members of the photo's street (404 to
// anyone else, as for unknown ids). An upload is attached to one post or
// reply by its uploader (Attach, which posts calls); one left unattached
// for a day is swept; removing the post, or deleting the account, deletes
// it.
package photos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/ratelimit"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Sizes of a photo.
const (
	SizeFull  = "full"
	SizeThumb = "thumb"
)

// Attachment states besides "post:<id>" and "reply:<id>".
const (
	unattached = ""
	deleted    = "deleted" // on its way out: served to nobody
)

// chunkSize bounds one document of bytes (well under the 16 MB of a BSON
// document and the 1 MB the embedded engine handles best).
const chunkSize = 512 << 10

// UnattachedFor is how long an upload waits to be attached before the
// sweep deletes it.
const UnattachedFor = 24 * time.Hour

// sweepEvery is how often Sweep scans: the records are a scan on the
// embedded engine, and a day's grace needs no precision.
const sweepEvery = 10 * time.Minute

// Errors of this package.
var (
	ErrPhotoNotFound = fault.New(fault.NotFound, "photo_not_found", "photo not found")
	ErrRateLimited   = fault.New(fault.RateLimited, "rate_limited", "too many photos, try again later")
	ErrBusy          = fault.New(fault.Unavailable, "busy", "too many photos are being processed, try again soon")
)

// Photo is an upload as its uploader gets it back.
type Photo struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	ThumbURL string `json:"thumb_url"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

// URL and ThumbURL are where a photo is served.
func URL(id string) string      { return "/api/v1/photos/" + id }
func ThumbURL(id string) string { return "/api/v1/photos/" + id + "/thumb" }

// Image is one size of a photo to send.
type Image struct {
	// ETag is the quoted entity tag of the bytes.
	ETag string
	// Data is nil when NotModified.
	Data        []byte
	NotModified bool
}

// Members tells who is an active member of a street.
type Members interface {
	RequireActive(ctx context.Context, streetID, userID string) (streets.Member, error)
}

// Options tune the service.
type Options struct {
	// UploadsPerHour bounds one user's uploads (default 120: four photos
	// on each of 30 posts).
	UploadsPerHour int
	// Concurrent bounds the uploads decoded at once in this process
	// (default half of GOMAXPROCS, at least one): each holds up to
	// MaxPixels × 4 bytes, and each keeps a processor busy for a quarter
	// of a second, which Go cannot give a lower priority than a street's
	// fan-out. With every processor processing photos the fan-out waits
	// for the scheduler at each of its hops: on 2 vCPU, two uploads at
	// once took the websocket p99 from 8 to 284 ms; one at a time, to
	// 26 ms, at 4.0 uploads/s instead of 6.5 (scripts/photobench). The
	// server also keeps a Go processor more than the machine has
	// (app.Tune), so that a decode never holds one the fan-out needs.
	Concurrent int
	// QueueWait is how long an upload waits for its turn before it is
	// refused as busy (default 20 s).
	QueueWait time.Duration
}

// Service stores and serves photos.
type Service struct {
	records *store.Collection
	chunks  *store.Collection
	members Members
	clock   clock.Clock
	log     *slog.Logger
	limit   *ratelimit.Limiter
	slots   chan struct{}
	wait    time.Duration

	mu        sync.Mutex
	lastSweep time.Time
}

type sizeDoc struct {
	Bytes  int    `bson:"bytes"`
	Chunks int    `bson:"chunks"`
	ETag   string `bson:"etag"`
}

// photoDoc is a photo's record.
type photoDoc struct {
	ID          bson.ObjectID `bson:"_id"`
	StreetID    string        `bson:"street_id"`
	UploaderID  string        `bson:"uploader_id"`
	Width       int           `bson:"width"`
	Height      int           `bson:"height"`
	ThumbWidth  int           `bson:"thumb_width"`
	ThumbHeight int           `bson:"thumb_height"`
	Full        sizeDoc       `bson:"full"`
	Thumb       sizeDoc       `bson:"thumb"`
	AttachedTo  string        `bson:"attached_to"`
	CreatedAt   time.Time     `bson:"created_at"`
}

type chunkDoc struct {
	ID   string `bson:"_id"`
	Data []byte `bson:"data"`
}

func chunkID(photo, size string, n int) string { return fmt.Sprintf("%s:%s:%d", photo, size, n) }

// Indexes serve MongoDB deployments' sweeps and erasures; the embedded
// engine scans (both are rare).
func Indexes() []store.Index {
	return []store.Index{
		{Collection: "photos", Name: "uploader", Keys: bson.D{{Key: "uploader_id", Value: 1}}},
		{Collection: "photos", Name: "attached_created", Keys: bson.D{{Key: "attached_to", Value: 1}, {Key: "created_at", Value: 1}}},
	}
}

// New returns the service.
func New(st *store.Store, c clock.Clock, members Members, log *slog.Logger, opts Options) *Service {
	if opts.UploadsPerHour == 0 {
		opts.UploadsPerHour = 120
	}
	if opts.Concurrent <= 0 {
		opts.Concurrent = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = 20 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{records: st.Collection("photos"), chunks: st.Collection("photo_bytes"), members: members, clock: c, log: log,
		limit: ratelimit.New(st, "photo", opts.UploadsPerHour, time.Hour, c), slots: make(chan struct{}, opts.Concurrent),
		wait: opts.QueueWait}
}

// Upload stores an image sent by an active member of the street: JPEG,
// PNG or WebP, up to MaxBytes and MaxPixels, re-encoded (Process).
func (s *Service) Upload(ctx context.Context, p auth.Principal, streetID string, b []byte) (Photo, error) {
	if len(b) > MaxBytes {
		return Photo{}, ErrTooLarge
	}
	if _, err := s.members.RequireActive(ctx, streetID, p.UserID); err != nil {
		return Photo{}, err
	}
	// The header before the limit: a file that is no image costs nothing
	// and counts for nothing.
	if _, _, err := Check(b); err != nil {
		return Photo{}, err
	}
	ok, wait, err := s.limit.Allow(ctx, p.UserID)
	if err != nil {
		s.log.Warn("photos: rate limit", "err", err)
	}
	if !ok {
		return Photo{}, ErrRateLimited.WithRetry(wait)
	}
	pr, err := s.process(ctx, b)
	if err != nil {
		return Photo{}, err
	}
	id := bson.NewObjectID()
	d := &photoDoc{ID: id, StreetID: streetID, UploaderID: p.UserID, Width: pr.Width, Height: pr.Height,
		ThumbWidth: pr.ThumbWidth, ThumbHeight: pr.ThumbHeight, AttachedTo: unattached, CreatedAt: s.clock.Now().UTC().Truncate(time.Millisecond)}
	if d.Full, err = s.writeSize(ctx, id.Hex(), SizeFull, pr.Full); err != nil {
		return Photo{}, err
	}
	if d.Thumb, err = s.writeSize(ctx, id.Hex(), SizeThumb, pr.Thumb); err != nil {
		return Photo{}, err
	}
	if _, err := s.records.InsertOne(ctx, d); err != nil {
		s.dropChunks(context.WithoutCancel(ctx), d)
		return Photo{}, err
	}
	return d.view(), nil
}

func (d *photoDoc) view() Photo {
	id := d.ID.Hex()
	return Photo{ID: id, URL: URL(id), ThumbURL: ThumbURL(id), Width: d.Width, Height: d.Height}
}

// process runs Process in one of the process's slots: decoding is CPU
// and memory, and a burst of uploads must queue, not multiply both.
func (s *Service) process(ctx context.Context, b []byte) (Processed, error) {
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return Processed{}, ctx.Err()
	case <-t.C:
		return Processed{}, ErrBusy.WithRetry(5 * time.Second)
	}
	defer func() { <-s.slots }()
	return Process(b)
}

// writeSize stores one size's bytes as chunks.
func (s *Service) writeSize(ctx context.Context, photo, size string, b []byte) (sizeDoc, error) {
	sum := sha256.Sum256(b)
	sd := sizeDoc{Bytes: len(b), ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	for off := 0; off < len(b); off += chunkSize {
		end := min(off+chunkSize, len(b))
		if _, err := s.chunks.InsertOne(ctx, chunkDoc{ID: chunkID(photo, size, sd.Chunks), Data: b[off:end]}); err != nil {
			return sizeDoc{}, err
		}
		sd.Chunks++
	}
	return sd, nil
}

func (s *Service) load(ctx context.Context, id string) (*photoDoc, error) {
	oid, ok := store.ID(id)
	if !ok {
		return nil, ErrPhotoNotFound
	}
	var d photoDoc
	err := s.records.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrPhotoNotFound
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Image returns one size of a photo (SizeFull or SizeThumb) to an active
// member of its street; anyone else, and any unknown id, gets
// ErrPhotoNotFound. When etag is the photo's, nothing is read but the
// record and Image.NotModified is set.
func (s *Service) Image(ctx context.Context, p auth.Principal, id, size, etag string) (Image, error) {
	d, err := s.load(ctx, id)
	if err != nil {
		return Image{}, err
	}
	if d.AttachedTo == deleted {
		return Image{}, ErrPhotoNotFound
	}
	if _, err := s.members.RequireActive(ctx, d.StreetID, p.UserID); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Image{}, ErrPhotoNotFound
		}
		return Image{}, err
	}
	sd := d.Full
	if size == SizeThumb {
		sd = d.Thumb
	}
	if etag != "" && etag == sd.ETag {
		return Image{ETag: sd.ETag, NotModified: true}, nil
	}
	data := make([]byte, 0, sd.Bytes)
	for n := range sd.Chunks {
		var c chunkDoc
		err := s.chunks.FindOne(ctx, bson.M{"_id": chunkID(id, size, n)}, &c)
		if errors.Is(err, store.ErrNotFound) { // being deleted
			return Image{}, ErrPhotoNotFound
		}
		if err != nil {
			return Image{}, err
		}
		data = append(data, c.Data...)
	}
	return Image{ETag: sd.ETag, Data: data}, nil
}

// Size is what Attach tells of a photo: its width and height, zero when
// it cannot be attached, and Held when this call did not attach it because
// target held it already (before the call, or by another call meanwhile).
type Size struct {
	Width, Height int
	Held          bool
}

// Attach ties photos to target ("post:<id>" or "reply:<id>"): each must be
// the user's upload in that street, unattached or already attached to
// target (a retried request, or a post's edit keeping some). It is all or
// nothing: when any cannot be attached, none is, and the sizes returned
// are zero for those that could not; photos target held stay attached.
func (s *Service) Attach(ctx context.Context, streetID, userID, target string, ids []string) ([]Size, error) {
	sizes := make([]Size, len(ids))
	bad := false
	for i, id := range ids {
		d, err := s.load(ctx, id)
		if errors.Is(err, ErrPhotoNotFound) {
			bad = true
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.StreetID != streetID || d.UploaderID != userID || (d.AttachedTo != unattached && d.AttachedTo != target) {
			bad = true
			continue
		}
		sizes[i] = Size{Width: d.Width, Height: d.Height, Held: d.AttachedTo == target}
	}
	if bad {
		return sizes, nil
	}
	// Each photo moves from the state read: so this call tells apart what
	// it attached (and may give back) from what target held, also when
	// another call attached it meanwhile.
	var done []string
	for i, id := range ids {
		oid, _ := store.ID(id)
		from := unattached
		if sizes[i].Held {
			from = target
		}
		res, err := s.records.UpdateOne(ctx, bson.M{"_id": oid, "attached_to": from}, bson.M{"$set": bson.M{"attached_to": target}})
		if err == nil && res.MatchedCount == 1 {
			if !sizes[i].Held {
				done = append(done, id)
			}
			continue
		}
		if err == nil && !sizes[i].Held {
			if d, lerr := s.load(ctx, id); lerr == nil && d.AttachedTo == target {
				sizes[i].Held = true // another call attached it meanwhile
				continue
			}
		}
		// Taken or deleted meanwhile: give back what this call attached,
		// not what target held (an edited post still shows those).
		if rerr := s.Release(context.WithoutCancel(ctx), target, done); rerr != nil {
			s.log.Error("photos: release after a failed attach", "target", target, "err", rerr)
		}
		if err != nil {
			return nil, err
		}
		sizes[i] = Size{}
		return sizes, nil
	}
	return sizes, nil
}

// Release detaches photos from target (a post that was not written after
// all): they are unattached again, and swept if nothing takes them.
func (s *Service) Release(ctx context.Context, target string, ids []string) error {
	for _, id := range ids {
		oid, ok := store.ID(id)
		if !ok {
			continue
		}
		if _, err := s.records.UpdateOne(ctx, bson.M{"_id": oid, "attached_to": target},
			bson.M{"$set": bson.M{"attached_to": unattached}}); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes photos: marked deleted (served to nobody from then on),
// their chunks, then their records. Unknown ids are skipped. Running it
// again finishes a deletion that failed midway.
func (s *Service) Delete(ctx context.Context, ids []string) error {
	for _, id := range ids {
		oid, ok := store.ID(id)
		if !ok {
			continue
		}
		var d photoDoc
		err := s.records.FindOneAndUpdate(ctx, bson.M{"_id": oid}, bson.M{"$set": bson.M{"attached_to": deleted}}, &d,
			options.FindOneAndUpdate().SetReturnDocument(options.After))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.remove(ctx, &d); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes a photo marked deleted: chunks first, then the record.
func (s *Service) remove(ctx context.Context, d *photoDoc) error {
	if err := s.dropChunks(ctx, d); err != nil {
		return err
	}
	_, err := s.records.DeleteOne(ctx, bson.M{"_id": d.ID, "attached_to": deleted})
	return err
}

func (s *Service) dropChunks(ctx context.Context, d *photoDoc) error {
	for _, sz := range []struct {
		name string
		n    int
	}{{SizeFull, d.Full.Chunks}, {SizeThumb, d.Thumb.Chunks}} {
		for n := range sz.n {
			if _, err := s.chunks.DeleteOne(ctx, bson.M{"_id": chunkID(d.ID.Hex(), sz.name, n)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Erase deletes every photo the user uploaded, before their account is
// deleted: a photo is theirs, even on a post others answered. One scan
// of the records (no index serves it on the embedded engine): fine for
// an erasure.
func (s *Service) Erase(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ids, err := s.scan(ctx, bson.M{"uploader_id": userID})
	if err != nil {
		return err
	}
	return s.Delete(ctx, ids)
}

func (s *Service) scan(ctx context.Context, filter bson.M) ([]string, error) {
	var ids []string
	err := s.records.Each(ctx, filter, func(raw bson.Raw) error {
		var d struct {
			ID bson.ObjectID `bson:"_id"`
		}
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		ids = append(ids, d.ID.Hex())
		return nil
	}, options.Find().SetProjection(bson.M{"_id": 1}))
	return ids, err
}

// Sweep deletes uploads left unattached for UnattachedFor, and finishes
// deletions that failed midway. The app's leader runs it with its other
// sweeps; it scans at most every sweepEvery.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.clock.Now()
	s.mu.Lock()
	if !s.lastSweep.IsZero() && now.Sub(s.lastSweep) < sweepEvery {
		s.mu.Unlock()
		return nil
	}
	s.lastSweep = now
	s.mu.Unlock()
	ids, err := s.scan(ctx, bson.M{"attached_to": bson.M{"$in": bson.A{unattached, deleted}},
		"created_at": bson.M{"$lt": now.Add(-UnattachedFor)}})
	if err != nil {
		return err
	}
	for _, id := range ids {
		oid, _ := store.ID(id)
		// Only while still unattached: a post may take it this moment.
		var d photoDoc
		err := s.records.FindOneAndUpdate(ctx, bson.M{"_id": oid, "attached_to": bson.M{"$in": bson.A{unattached, deleted}}},
			bson.M{"$set": bson.M{"attached_to": deleted}}, &d, options.FindOneAndUpdate().SetReturnDocument(options.After))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.remove(ctx, &d); err != nil {
			return err
		}
	}
	return nil
}
