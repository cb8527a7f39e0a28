package photos_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"testing"
	"time"

	"civico/internal/photos"
	"civico/internal/posts"
	"civico/internal/testutil"
)

// A phone's photo carries EXIF with the GPS position of the home it was
// taken in; what the street's members get back is a JPEG with no APP1
// segment, no "Exif" and no GPS anywhere in its bytes, turned upright as
// the EXIF orientation said.
func TestUploadStripsEXIF(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.Street(anna)
	orig := withEXIF(t, jpegOf(t, picture(300, 200, false)), 6) // turned right: upright it is 200 × 300
	if !bytes.Contains(orig, []byte("Exif")) || segments(t, orig)[0] != 0xE1 {
		t.Fatal("the fixture carries no EXIF")
	}
	ph := e.upload(t, anna, sid, orig)
	if ph.Width != 200 || ph.Height != 300 {
		t.Errorf("size %d×%d, want 200×300 (orientation 6 applied)", ph.Width, ph.Height)
	}
	for _, size := range []string{photos.SizeFull, photos.SizeThumb} {
		img, err := e.photos.Image(e.Ctx, anna, ph.ID, size, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range segments(t, img.Data) {
			if m >= 0xE0 && m <= 0xEF || m == 0xFE { // APPn, comments
				t.Errorf("%s: segment FF%X kept", size, m)
			}
		}
		for _, s := range []string{"Exif", "GPS", "II*"} {
			if bytes.Contains(img.Data, []byte(s)) {
				t.Errorf("%s: %q in the stored bytes", size, s)
			}
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(img.Data)); err != nil {
			t.Errorf("%s: %v", size, err)
		}
	}
}

// A 50 000 × 50 000 PNG (10 GB of pixels, a few bytes on the wire) is
// refused from its header, allocating next to nothing.
func TestHugePNGRefusedCheaply(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.Street(anna)
	bomb := hugePNG()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := e.photos.Upload(e.Ctx, anna, sid, bomb)
	runtime.ReadMemStats(&after)
	testutil.WantCode(t, err, "photo_too_many_pixels")
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("refusing it allocated %d bytes", n)
	}
	// The decoder alone, too.
	runtime.ReadMemStats(&before)
	_, _, err = photos.Decode(bomb)
	runtime.ReadMemStats(&after)
	testutil.WantCode(t, err, "photo_too_many_pixels")
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("Decode allocated %d bytes", n)
	}
}

// JPEG, PNG (with transparency) and WebP (lossy, and lossless with alpha)
// are accepted and come back as JPEG within 1600 px, thumbnails within
// 400; what is no image is refused.
func TestFormatsComeBackAsJPEG(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	sid := e.Street(anna)
	lossy, err := os.ReadFile("testdata/large.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	lossless, err := os.ReadFile("testdata/alpha.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"png 2400×1000 with alpha", pngOf(t, picture(2400, 1000, true))},
		{"jpeg 1000×3000", jpegOf(t, picture(1000, 3000, false))},
		{"webp lossy", lossy},
		{"webp lossless with alpha", lossless},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _, err := image.DecodeConfig(bytes.NewReader(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			ph := e.upload(t, anna, sid, tc.b)
			if ph.URL != "/api/v1/photos/"+ph.ID || ph.ThumbURL != ph.URL+"/thumb" {
				t.Errorf("urls %q %q", ph.URL, ph.ThumbURL)
			}
			for _, c := range []struct {
				size string
				side int
			}{{photos.SizeFull, photos.FullSide}, {photos.SizeThumb, photos.ThumbSide}} {
				img, err := e.photos.Image(e.Ctx, anna, ph.ID, c.size, "")
				if err != nil {
					t.Fatal(err)
				}
				cfg, format, err := image.DecodeConfig(bytes.NewReader(img.Data))
				if err != nil || format != "jpeg" {
					t.Fatalf("%s: %s, %v", c.size, format, err)
				}
				want := min(c.side, max(src.Width, src.Height))
				if got := max(cfg.Width, cfg.Height); got != want {
					t.Errorf("%s: longest side %d, want %d", c.size, got, want)
				}
				// The proportions stay (within a pixel of rounding).
				if d := cfg.Width*src.Height - cfg.Height*src.Width; d > src.Height+src.Width || -d > src.Height+src.Width {
					t.Errorf("%s: %d×%d from %d×%d", c.size, cfg.Width, cfg.Height, src.Width, src.Height)
				}
				if c.size == photos.SizeFull && (cfg.Width != ph.Width || cfg.Height != ph.Height) {
					t.Errorf("answered %d×%d, stored %d×%d", ph.Width, ph.Height, cfg.Width, cfg.Height)
				}
			}
		})
	}
	for name, b := range map[string][]byte{
		"text":      []byte("hello, this is no image"),
		"truncated": jpegOf(t, picture(64, 64, false))[:300],
		"gif":       []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
	} {
		_, err := e.photos.Upload(e.Ctx, anna, sid, b)
		testutil.WantCode(t, err, "photo_invalid")
		_ = name
	}
}

// Only active members of the photo's street get it; anyone else, as for
// an unknown id, gets not found. The ETag lets a member's browser keep it.
func TestImageMembersOnly(t *testing.T) {
	e := newEnv(t)
	anna, bruno, sara := e.User("Anna"), e.User("Bruno"), e.User("Sara")
	sid := e.Street(anna, bruno)
	e.Street(sara) // a member elsewhere
	ph := e.upload(t, anna, sid, jpegOf(t, picture(64, 48, false)))
	img, err := e.photos.Image(e.Ctx, bruno, ph.ID, photos.SizeFull, "")
	if err != nil || len(img.Data) == 0 || img.ETag == "" {
		t.Fatalf("member: %v", err)
	}
	again, err := e.photos.Image(e.Ctx, bruno, ph.ID, photos.SizeFull, img.ETag)
	if err != nil || !again.NotModified || again.Data != nil {
		t.Errorf("If-None-Match: %+v %v", again, err)
	}
	for _, id := range []string{ph.ID, "0123456789abcdef01234567", "nope"} {
		_, err := e.photos.Image(e.Ctx, sara, id, photos.SizeThumb, "")
		testutil.WantCode(t, err, "photo_not_found")
	}
	// Over 10 MB is refused whatever it holds.
	_, err = e.photos.Upload(e.Ctx, anna, sid, make([]byte, photos.MaxBytes+1))
	testutil.WantCode(t, err, "photo_too_large")
	// Uploading is for members too.
	_, err = e.photos.Upload(e.Ctx, sara, sid, jpegOf(t, picture(64, 48, false)))
	testutil.WantCode(t, err, "street_not_found")
}

// A post takes up to four of its author's photos in its street, each with
// an alt text; the thread and the feed show them; removing the post deletes
// the images (and its replies' images).
func TestPostPhotos(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	other := e.Street(anna)
	var ids []string
	for range 5 {
		ids = append(ids, e.upload(t, anna, sid, jpegOf(t, picture(80, 60, false))).ID)
	}
	in := func(ids ...string) []posts.PhotoIn {
		var out []posts.PhotoIn
		for _, id := range ids {
			out = append(out, posts.PhotoIn{ID: id, Alt: "Il trapano"})
		}
		return out
	}
	np := func(ph []posts.PhotoIn) posts.NewPost {
		return posts.NewPost{Kind: posts.KindOffer, Category: "lending", Title: "Presto un trapano", Body: "Chiedete pure", Photos: ph}
	}
	_, err := e.posts.Create(e.Ctx, anna, sid, np(in(ids...)))
	testutil.WantField(t, err, "photos", "too_many")
	noAlt := in(ids[0])
	noAlt[0].Alt = " "
	_, err = e.posts.Create(e.Ctx, anna, sid, np(noAlt))
	testutil.WantField(t, err, "photos.0.alt", "required")
	brunos := e.upload(t, bruno, sid, jpegOf(t, picture(80, 60, false))).ID
	_, err = e.posts.Create(e.Ctx, anna, sid, np(in(ids[0], brunos)))
	testutil.WantField(t, err, "photos.1.id", "unknown")
	elsewhere := e.upload(t, anna, other, jpegOf(t, picture(80, 60, false))).ID
	_, err = e.posts.Create(e.Ctx, anna, sid, np(in(elsewhere)))
	testutil.WantField(t, err, "photos.0.id", "unknown")

	p, err := e.posts.Create(e.Ctx, anna, sid, np(in(ids[:4]...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Photos) != 4 || p.Photos[0].ID != ids[0] || p.Photos[0].Alt != "Il trapano" || p.Photos[0].Width != 80 ||
		p.Photos[0].URL != photos.URL(ids[0]) || p.Photos[0].ThumbURL != photos.ThumbURL(ids[0]) {
		t.Fatalf("post photos %+v", p.Photos)
	}
	// A photo already on a post cannot go on another.
	_, err = e.posts.Create(e.Ctx, anna, sid, np(in(ids[0])))
	testutil.WantField(t, err, "photos.0.id", "unknown")

	_, _, err = e.posts.ReplyWith(e.Ctx, bruno, p.ID, posts.NewReply{Body: "Grazie!", Photo: &posts.PhotoIn{ID: brunos, Alt: "Una vite"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	th, err := e.posts.Get(e.Ctx, bruno, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(th.Photos) != 4 || len(th.Replies) != 1 || len(th.Replies[0].Photos) != 1 || th.Replies[0].Photos[0].ID != brunos ||
		th.Replies[0].Photos[0].Alt != "Una vite" {
		t.Fatalf("thread %+v", th)
	}
	feed, _, err := e.posts.Feed(e.Ctx, bruno, sid, posts.Query{})
	if err != nil || len(feed) != 1 || len(feed[0].Photos) != 4 {
		t.Fatalf("feed %+v %v", feed, err)
	}
	if _, err := e.photos.Image(e.Ctx, bruno, ids[3], photos.SizeThumb, ""); err != nil {
		t.Fatal(err)
	}

	if _, err := e.posts.Remove(e.Ctx, anna, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	for _, id := range append(ids[:4:4], brunos) {
		_, err := e.photos.Image(e.Ctx, anna, id, photos.SizeFull, "")
		testutil.WantCode(t, err, "photo_not_found")
	}
	// The unattached fifth stays, until the sweep a day later.
	if _, err := e.photos.Image(e.Ctx, anna, ids[4], photos.SizeFull, ""); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(photos.UnattachedFor + time.Minute)
	if err := e.photos.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	_, err = e.photos.Image(e.Ctx, anna, ids[4], photos.SizeFull, "")
	testutil.WantCode(t, err, "photo_not_found")
}

// Deleting an account deletes the person's photos, and their posts no
// longer show them.
func TestErase(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	id := e.upload(t, anna, sid, jpegOf(t, picture(80, 60, false))).ID
	p, err := e.posts.Create(e.Ctx, anna, sid, posts.NewPost{Kind: posts.KindRequest, Category: "repairs", Title: "Rubinetto",
		Body: "Perde", Photos: []posts.PhotoIn{{ID: id, Alt: "Il rubinetto"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.photos.Erase(e.Ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.posts.Erase(e.Ctx, anna.UserID, "deleted-anna"); err != nil {
		t.Fatal(err)
	}
	_, err = e.photos.Image(e.Ctx, bruno, id, photos.SizeFull, "")
	testutil.WantCode(t, err, "photo_not_found")
	th, err := e.posts.Get(e.Ctx, bruno, p.ID)
	if err != nil || len(th.Photos) != 0 {
		t.Fatalf("thread %+v %v", th.Photos, err)
	}
}
