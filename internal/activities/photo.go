package activities

import (
	"context"
	"unicode/utf8"

	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/photos"
	"civico/internal/store"
	"civico/internal/wording"
)

// An event's optional photo, as on a reply: the proposer uploads it first
// (package photos, POST /streets/:sid/photos), then names it here with
// an alt text. The event keeps the photo's id, alt text, size and
// uploader, so a list shows it without reading the photos; the image
// answers only the street's members (package photos).
//
// Its life: replaced or removed by an edit (the old image is deleted
// then); kept with a cancelled event, which members still see; events
// are never deleted, and when the account of whoever uploaded it is
// erased the event stays (under a pseudonym) without it: Erase drops the
// reference and photos.Erase deletes the image with the rest of that
// account's uploads.

// MaxAltLen bounds a photo's alt text (as on posts).
const MaxAltLen = 200

// Photos are the images, as the events need them (photos.Service; the
// same small interface as posts.Photos).
type Photos interface {
	// Attach ties the user's uploads in the street to target, all or
	// none; a zero size names one that cannot be attached.
	Attach(ctx context.Context, streetID, userID, target string, ids []string) ([]photos.Size, error)
	// Release undoes Attach for an event that was not written.
	Release(ctx context.Context, target string, ids []string) error
	// Delete deletes the images.
	Delete(ctx context.Context, ids []string) error
}

// PhotoIn is the photo a member puts on an event: their upload in the
// street, with its alt text.
type PhotoIn struct {
	ID  string `json:"id"`
	Alt string `json:"alt"`
}

// Photo is an event's photo as members see it, the same as a post's.
type Photo = events.Photo

// photoRef is the photo as the event stores it. By is the uploader: the
// photo goes when their account does.
type photoRef struct {
	ID     string `bson:"id"`
	Alt    string `bson:"alt"`
	Width  int    `bson:"width"`
	Height int    `bson:"height"`
	By     string `bson:"by"`
}

func (r *photoRef) view() *Photo {
	if r == nil {
		return nil
	}
	return &Photo{ID: r.ID, Alt: r.Alt, URL: photos.URL(r.ID), ThumbURL: photos.ThumbURL(r.ID), Width: r.Width, Height: r.Height}
}

func photoTarget(eventID string) string { return "event:" + eventID }

// checkPhoto validates the photo named in "photo" (photo.id, photo.alt)
// and returns it with its alt text normalised; nil for none.
func (s *Service) checkPhoto(f fault.Fields, in *PhotoIn) *PhotoIn {
	if in == nil {
		return nil
	}
	if s.deps.Photos == nil {
		f.Add("photo", "unsupported")
		return nil
	}
	p := PhotoIn{ID: in.ID, Alt: wording.Line(in.Alt)}
	if _, ok := store.ID(p.ID); !ok {
		f.Add("photo.id", "invalid")
	}
	switch {
	case p.Alt == "":
		f.Add("photo.alt", "required")
	case utf8.RuneCountInString(p.Alt) > MaxAltLen:
		f.Add("photo.alt", "too_long")
	default:
		if problem := wording.Problem(p.Alt); problem != "" {
			f.Add("photo.alt", problem)
		}
	}
	return &p
}

// attachPhoto attaches in (checked) to the event: a photo that is not the
// user's upload in that street, or is attached elsewhere, is a
// validation error on photo.id. One the event holds already is taken only
// when heldOK (a retried creation): on an edit it is another edit's new
// photo, still in flight, which this edit's failure would give back.
func (s *Service) attachPhoto(ctx context.Context, streetID, userID, eventID string, in *PhotoIn, heldOK bool) (*photoRef, error) {
	if in == nil {
		return nil, nil
	}
	sizes, err := s.deps.Photos.Attach(ctx, streetID, userID, photoTarget(eventID), []string{in.ID})
	if err != nil {
		return nil, err
	}
	if len(sizes) != 1 || sizes[0].Width == 0 || sizes[0].Held && !heldOK {
		return nil, fault.Validation("photo.id", "unknown")
	}
	return &photoRef{ID: in.ID, Alt: in.Alt, Width: sizes[0].Width, Height: sizes[0].Height, By: userID}, nil
}

// releasePhoto gives back the photo of an event or edit not written.
func (s *Service) releasePhoto(ctx context.Context, eventID string, r *photoRef) {
	if r == nil {
		return
	}
	if err := s.deps.Photos.Release(context.WithoutCancel(ctx), photoTarget(eventID), []string{r.ID}); err != nil {
		s.log.Error("activities: photo of an unwritten event kept", "event", eventID, "err", err)
	}
}

// deletePhoto deletes the image an edit replaced or removed; a failure is
// logged (the event no longer names it, and it answers only members).
func (s *Service) deletePhoto(ctx context.Context, r *photoRef) {
	if r == nil || s.deps.Photos == nil {
		return
	}
	if err := s.deps.Photos.Delete(context.WithoutCancel(ctx), []string{r.ID}); err != nil {
		s.log.Error("activities: replaced photo kept", "photo", r.ID, "err", err)
	}
}

// samePhoto says whether a and b are the same photo with the same alt.
func samePhoto(a, b *photoRef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ID == b.ID && a.Alt == b.Alt
}
