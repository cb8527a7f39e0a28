package activities_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
	"time"

	"civico/internal/activities"
	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/photos"
	"civico/internal/testutil"
)

// withPhotos is setup with a photos service over the same database.
func withPhotos(t *testing.T) (*env, *photos.Service) {
	t.Helper()
	e := setup(t)
	ph := photos.New(e.Store, e.Clock, e.Streets, nil, photos.Options{})
	svc, err := activities.New(ctx, e.Store, e.Clock, activities.Deps{Streets: e.Streets, Bus: e.Log, Notifier: e.notes, Photos: ph}, nil,
		activities.Options{PublicURL: "https://civico.example"})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e, ph
}

func upload(t *testing.T, ph *photos.Service, who auth.Principal, sid string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(4 * x), G: uint8(5 * y), B: 90, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	p, err := ph.Upload(ctx, who, sid, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// gone says whether the photo's image is no longer served.
func gone(t *testing.T, ph *photos.Service, who auth.Principal, id string) bool {
	t.Helper()
	_, err := ph.Image(ctx, who, id, photos.SizeFull, "")
	return err != nil
}

// An event takes its proposer's upload with an alt text; another's
// upload, one attached elsewhere, or one without alt text is refused; an
// edit replaces the photo (the old image deleted) or removes it; a
// cancelled event keeps its photo; once its uploader's account is erased
// the event stays without it.
func TestEventPhotoAttachRefuseReplace(t *testing.T) {
	e, ph := withPhotos(t)
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	in := func(title string, photo *activities.PhotoIn) activities.NewEvent {
		return activities.NewEvent{Title: title, Place: "Cortile", StartsAt: e.at(48), EndsAt: e.at(50), Photo: photo}
	}

	first := upload(t, ph, anna, sid)
	ev, err := e.svc.Create(ctx, anna, sid, in("Cena in strada", &activities.PhotoIn{ID: first, Alt: "  Il cortile \n apparecchiato "}))
	if err != nil {
		t.Fatal(err)
	}
	if p := ev.Photo; p == nil || p.ID != first || p.Alt != "Il cortile apparecchiato" || p.URL != photos.URL(first) ||
		p.ThumbURL != photos.ThumbURL(first) || p.Width != 64 || p.Height != 48 {
		t.Fatalf("photo %+v", ev.Photo)
	}
	if got, err := e.svc.Get(ctx, bruno, ev.ID); err != nil || got.Photo == nil || got.Photo.ID != first {
		t.Fatalf("bruno sees %+v, %v", got.Photo, err)
	}

	brunos := upload(t, ph, bruno, sid)
	_, err = e.svc.Create(ctx, anna, sid, in("Con la foto di Bruno", &activities.PhotoIn{ID: brunos, Alt: "Foto"}))
	testutil.WantField(t, err, "photo.id", "unknown")
	_, err = e.svc.Create(ctx, anna, sid, in("Con una foto già usata", &activities.PhotoIn{ID: first, Alt: "Foto"}))
	testutil.WantField(t, err, "photo.id", "unknown")
	_, err = e.svc.Create(ctx, anna, sid, in("Senza alt", &activities.PhotoIn{ID: upload(t, ph, anna, sid), Alt: " "}))
	testutil.WantField(t, err, "photo.alt", "required")
	_, err = e.svc.Create(ctx, anna, sid, in("Id sbagliato", &activities.PhotoIn{ID: "x", Alt: "Foto"}))
	testutil.WantField(t, err, "photo.id", "invalid")
	// Bruno's photo is still his to use.
	if _, err := e.svc.Create(ctx, bruno, sid, in("La sua", &activities.PhotoIn{ID: brunos, Alt: "Foto"})); err != nil {
		t.Fatal(err)
	}

	// Replaced: another's photo refused on an edit too, the event unchanged.
	_, err = e.svc.Update(ctx, anna, ev.ID, activities.Change{SetPhoto: true, Photo: &activities.PhotoIn{ID: brunos, Alt: "Foto"}})
	testutil.WantField(t, err, "photo.id", "unknown")
	second := upload(t, ph, anna, sid)
	got, err := e.svc.Update(ctx, anna, ev.ID, activities.Change{SetPhoto: true, Photo: &activities.PhotoIn{ID: second, Alt: "Il tavolo"}})
	if err != nil || got.Photo == nil || got.Photo.ID != second || got.Photo.Alt != "Il tavolo" || got.Sequence != 1 {
		t.Fatalf("replaced: %+v, %v", got.Photo, err)
	}
	if !gone(t, ph, bruno, first) || gone(t, ph, bruno, second) {
		t.Fatal("the replaced image is still served, or the new one is not")
	}
	// The same photo with a new alt text keeps its size; no photo field
	// keeps it.
	got, err = e.svc.Update(ctx, anna, ev.ID, activities.Change{SetPhoto: true, Photo: &activities.PhotoIn{ID: second, Alt: "Il tavolo lungo"}})
	if err != nil || got.Photo == nil || got.Photo.Alt != "Il tavolo lungo" || got.Photo.Width != 64 || gone(t, ph, bruno, second) {
		t.Fatalf("new alt: %+v, %v", got.Photo, err)
	}
	title := "Cena in strada!"
	if got, err = e.svc.Update(ctx, anna, ev.ID, activities.Change{Title: &title}); err != nil || got.Photo == nil || got.Photo.ID != second {
		t.Fatalf("title only: %+v, %v", got.Photo, err)
	}
	// Removed.
	if got, err = e.svc.Update(ctx, anna, ev.ID, activities.Change{SetPhoto: true}); err != nil || got.Photo != nil {
		t.Fatalf("removed: %+v, %v", got.Photo, err)
	}
	if !gone(t, ph, bruno, second) {
		t.Fatal("the removed image is still served")
	}

	// Kept by a cancelled event; gone with its uploader's account.
	third := upload(t, ph, anna, sid)
	if _, err := e.svc.Update(ctx, anna, ev.ID, activities.Change{SetPhoto: true, Photo: &activities.PhotoIn{ID: third, Alt: "Di nuovo"}}); err != nil {
		t.Fatal(err)
	}
	if got, err = e.svc.Cancel(ctx, admin, ev.ID, "Pioggia"); err != nil || got.Photo == nil || got.Photo.ID != third || gone(t, ph, bruno, third) {
		t.Fatalf("cancelled: %+v, %v", got.Photo, err)
	}
	if err := e.svc.Erase(ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	if err := ph.Erase(ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	if got, err = e.svc.Get(ctx, admin, ev.ID); err != nil || got.Photo != nil || !got.AuthorDeleted || !gone(t, ph, admin, third) {
		t.Fatalf("after anna's erasure: %+v, %v", got, err)
	}
}

// hookedPhotos is the photos service running after, once, right after the
// next Attach, before activities sees its answer.
type hookedPhotos struct {
	*photos.Service
	after func()
}

func (h *hookedPhotos) Attach(ctx context.Context, streetID, userID, target string, ids []string) ([]photos.Size, error) {
	sizes, err := h.Service.Attach(ctx, streetID, userID, target, ids)
	if f := h.after; f != nil {
		h.after = nil
		f()
	}
	return sizes, err
}

// Two edits of one event put the same new upload on it at once. The
// second, which attached it, writes; the first finds it attached already
// and must not take it: its write then fails (the event changed), and
// giving the upload back would leave the event naming a photo that the
// sweep of abandoned uploads deletes. Before, that is what happened.
func TestTwoEditsWithOneNewPhotoLeaveItOnTheEvent(t *testing.T) {
	e := setup(t)
	ph := &hookedPhotos{Service: photos.New(e.Store, e.Clock, e.Streets, nil, photos.Options{})}
	svc, err := activities.New(ctx, e.Store, e.Clock, activities.Deps{Streets: e.Streets, Bus: e.Log, Notifier: e.notes, Photos: ph}, nil,
		activities.Options{PublicURL: "https://civico.example"})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	anna := e.User("Anna")
	sid := e.Street(anna)
	ev, err := e.svc.Create(ctx, anna, sid, activities.NewEvent{Title: "Cena in strada", Place: "Cortile", StartsAt: e.at(48), EndsAt: e.at(50)})
	if err != nil {
		t.Fatal(err)
	}
	x := upload(t, ph.Service, anna, sid)
	set := activities.Change{SetPhoto: true, Photo: &activities.PhotoIn{ID: x, Alt: "Il cortile"}}

	var first error
	ph.after = func() { _, first = e.svc.Update(ctx, anna, ev.ID, set) }
	if _, err := e.svc.Update(ctx, anna, ev.ID, set); err != nil {
		t.Fatalf("the edit that attached the photo: %v", err)
	}
	if fe, ok := fault.As(first); !ok || fe.Fields["photo.id"] != "unknown" {
		t.Errorf("the edit that found the photo attached meanwhile: %v, want photo.id unknown", first)
	}
	e.Clock.Advance(photos.UnattachedFor + time.Hour)
	if err := ph.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, anna, ev.ID)
	if err != nil || got.Photo == nil || got.Photo.ID != x || gone(t, ph.Service, anna, x) {
		t.Fatalf("the event shows %+v (%v); want the photo, still served", got.Photo, err)
	}
}
