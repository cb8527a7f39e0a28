package posts

import (
	"context"
	"slices"
	"strconv"

	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/photos"
	"civico/internal/store"
	"civico/internal/wording"
)

// Photos on posts and replies: the author uploads them first (package
// photos), then names them here with an alt text. A post or reply keeps
// each photo's id, alt text and size, so the feed shows them without
// reading the photos; the images themselves answer only the street's
// members (package photos).

// Limits of photos.
const (
	MaxPostPhotos = 4
	MaxAltLen     = 200
)

// Photos are the images, as posts needs them.
type Photos interface {
	// Attach ties the user's uploads in the street to target, all or
	// none; a zero size names one that cannot be attached.
	Attach(ctx context.Context, streetID, userID, target string, ids []string) ([]photos.Size, error)
	// Release undoes Attach for a post or reply that was not written.
	Release(ctx context.Context, target string, ids []string) error
	// Delete deletes the images.
	Delete(ctx context.Context, ids []string) error
}

// PhotoIn is a photo an author puts on a post or a reply.
type PhotoIn struct {
	ID  string `json:"id"`
	Alt string `json:"alt"`
}

// Photo is a photo as members see it, in answers and live frames alike.
type Photo = events.Photo

// photoRef is a photo as a post or reply stores it.
type photoRef struct {
	ID     string `bson:"id"`
	Alt    string `bson:"alt"`
	Width  int    `bson:"width"`
	Height int    `bson:"height"`
}

func (r photoRef) view() Photo {
	return Photo{ID: r.ID, Alt: r.Alt, URL: photos.URL(r.ID), ThumbURL: photos.ThumbURL(r.ID), Width: r.Width, Height: r.Height}
}

func photoViews(refs []photoRef) []Photo {
	if len(refs) == 0 {
		return nil
	}
	out := make([]Photo, len(refs))
	for i, r := range refs {
		out[i] = r.view()
	}
	return out
}

func photoIDs(refs []photoRef) []string {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ids
}

// hasPhoto tells whether refs name the photo id.
func hasPhoto(refs []photoRef, id string) bool {
	return slices.ContainsFunc(refs, func(r photoRef) bool { return r.ID == id })
}

// dropped are the photos of prev that next does not name.
func dropped(prev, next []photoRef) []photoRef {
	var out []photoRef
	for _, r := range prev {
		if !hasPhoto(next, r.ID) {
			out = append(out, r)
		}
	}
	return out
}

// checkPhotos validates the photos named in field (field.N.id, field.N.alt
// for a list, field.id and field.alt for one) and returns them with their
// alt text normalised.
func (s *Service) checkPhotos(f fault.Fields, field string, list bool, in []PhotoIn, maxN int) []PhotoIn {
	if len(in) == 0 {
		return nil
	}
	if s.opts.Photos == nil {
		f.Add(field, "unsupported")
		return nil
	}
	if len(in) > maxN {
		f.Add(field, "too_many")
		return nil
	}
	out := make([]PhotoIn, len(in))
	seen := map[string]bool{}
	for i, p := range in {
		name := field
		if list {
			name += "." + strconv.Itoa(i)
		}
		p.Alt = wording.Line(p.Alt)
		if _, ok := store.ID(p.ID); !ok {
			f.Add(name+".id", "invalid")
		} else if seen[p.ID] {
			f.Add(name+".id", "duplicate")
		}
		seen[p.ID] = true
		checkLen(f, name+".alt", p.Alt, true, MaxAltLen)
		out[i] = p
	}
	return out
}

// attachPhotos attaches in (checked) to target; a photo that is not the
// user's upload in that street is a validation error on its field. A
// photo target holds already is taken as it is (a retried request).
func (s *Service) attachPhotos(ctx context.Context, streetID, userID, target, field string, list bool, in []PhotoIn) ([]photoRef, error) {
	refs, _, err := s.attach(ctx, streetID, userID, target, field, list, in, nil)
	return refs, err
}

// attach is attachPhotos where a photo target holds already is accepted
// only when held(id) says so (nil: always); fresh are the photos this
// call attached, given back when it refuses.
func (s *Service) attach(ctx context.Context, streetID, userID, target, field string, list bool, in []PhotoIn, held func(id string) bool) (refs, fresh []photoRef, err error) {
	if len(in) == 0 {
		return nil, nil, nil
	}
	ids := make([]string, len(in))
	for i, p := range in {
		ids[i] = p.ID
	}
	sizes, err := s.opts.Photos.Attach(ctx, streetID, userID, target, ids)
	if err != nil {
		return nil, nil, err
	}
	unknown := func(f fault.Fields, i int) {
		name := field
		if list {
			name += "." + strconv.Itoa(i)
		}
		f.Add(name+".id", "unknown")
	}
	// Attach is all or nothing: a photo it refuses means none is attached.
	f := fault.Fields{}
	for i := range in {
		if sizes[i].Width == 0 {
			unknown(f, i)
		}
	}
	if err := f.Err(); err != nil {
		return nil, nil, err
	}
	refs = make([]photoRef, len(in))
	for i, p := range in {
		refs[i] = photoRef{ID: p.ID, Alt: p.Alt, Width: sizes[i].Width, Height: sizes[i].Height}
		switch {
		case !sizes[i].Held:
			fresh = append(fresh, refs[i])
		case held != nil && !held(p.ID):
			unknown(f, i)
		}
	}
	if err := f.Err(); err != nil {
		s.releasePhotos(ctx, target, fresh)
		return nil, nil, err
	}
	return refs, fresh, nil
}

// releasePhotos gives back the photos of a post or reply not written.
func (s *Service) releasePhotos(ctx context.Context, target string, refs []photoRef) {
	if len(refs) == 0 {
		return
	}
	if err := s.opts.Photos.Release(context.WithoutCancel(ctx), target, photoIDs(refs)); err != nil {
		s.log.Error("photos of an unwritten post kept", "target", target, "err", err)
	}
}

// deletePhotos deletes images of a post or reply taken down; a failure is
// logged (the post is down either way, and the images answer only
// members).
func (s *Service) deletePhotos(ctx context.Context, refs []photoRef) {
	if len(refs) == 0 || s.opts.Photos == nil {
		return
	}
	if err := s.opts.Photos.Delete(context.WithoutCancel(ctx), photoIDs(refs)); err != nil {
		s.log.Error("photos of a removed post kept", "err", err)
	}
}

// replyPhotos are the photos of d's replies (one read per reply: a post
// being removed, not a hot path).
func (s *Service) replyPhotos(ctx context.Context, d *postDoc) []photoRef {
	if s.opts.Photos == nil {
		return nil
	}
	var out []photoRef
	for _, id := range d.ReplyIDs {
		r, err := s.loadReply(ctx, id)
		if err != nil {
			continue
		}
		if r.Photo != nil {
			out = append(out, *r.Photo)
		}
	}
	return out
}

// photoKey is the part of an idempotency hash a request's photos make.
func photoKey(in []PhotoIn) []string {
	if len(in) == 0 {
		return nil
	}
	parts := []string{"photos"}
	for _, p := range in {
		parts = append(parts, p.ID, p.Alt)
	}
	return parts
}
