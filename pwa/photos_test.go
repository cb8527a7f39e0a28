package pwa_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"civico/internal/testutil"

	"github.com/chromedp/chromedp"
)

// cameraPhoto writes a w×h JPEG, as a phone's camera would give one (noisy
// enough that it does not compress to nothing), and returns its path.
func cameraPhoto(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x*7 + y*13) % 256), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("IMG_%dx%d.jpg", w, h))
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// attach sets file on the file input matching sel, as picking it from the
// gallery does.
func (tb *tab) attach(sel, file string) {
	tb.t.Helper()
	tb.do("attach "+file, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{file}))
}

// TestPostWithPhoto: Anna asks to borrow a drill and shows which bit she
// needs with a photo from her gallery, a 3000×2250 camera picture. The
// phone shrinks it before sending (the server gets at most 1600 px on the
// longest side), and its description starts as the post's title. Bruno
// sees the thumbnail on the board and in the post, lazily loaded, sized
// before it arrives, with its description as alt text; a tap opens it
// large. He answers with a photo of his own.
func TestPostWithPhoto(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via Mascarella", brunoU)
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")
	big := cameraPhoto(t, 3000, 2250)

	anna.signIn(annaU)
	anna.open("/streets/" + sid + "/new?kind=request")
	anna.choose(`#post-form [name=category]`, "lending")
	const title = "Mi prestate un trapano a percussione?"
	anna.fill(`#post-form [name=title]`, title)
	anna.fill(`#post-form [name=body]`, "Mi serve la punta da 8 per il muro, come questa.")
	anna.attach(`#post-form input.file-gallery`, big)
	anna.waitJS("photo uploaded", `document.querySelector('#post-form .photo-item[data-photo-id]')`)
	var alt string
	anna.eval(`document.querySelector('#post-form .photo-item input[type=text]').value`, &alt)
	if alt != title {
		t.Errorf("the photo's description starts as %q, want the title %q", alt, title)
	}
	anna.eval(`document.querySelector('#post-form .photo-picker').scrollIntoView()`, nil)
	anna.screen("compose-photo")
	anna.click(`#post-form button[type=submit]`)
	anna.waitPath("/posts/")
	pid := anna.path()[len("/posts/"):]

	var p struct {
		Photos []struct {
			ID, Alt, URL, ThumbURL string
			Width, Height          int
		} `json:"photos"`
	}
	srv.Do(t, "GET", "/posts/"+pid, nil, brunoU.Token).Expect(t, http.StatusOK).JSON(t, &p)
	if len(p.Photos) != 1 {
		t.Fatalf("the post has %d photos, want 1", len(p.Photos))
	}
	if got := p.Photos[0]; got.Width != 1600 || got.Height != 1200 || got.Alt != title {
		t.Errorf("the server got a %d×%d photo described %q, want 1600×1200 (shrunk on the phone) described %q", got.Width, got.Height, got.Alt, title)
	}

	// Bruno's board: the thumbnail, lazy, sized, described.
	bruno.signIn(brunoU)
	bruno.open("/streets/" + sid)
	thumb := `#feed .post[data-post-id="` + pid + `"] .photos img`
	bruno.waitJS("thumbnail on the board", `document.querySelector('`+thumb+`') && document.querySelector('`+thumb+`').complete && document.querySelector('`+thumb+`').naturalWidth > 0`)
	var img struct {
		Alt, Loading, Src    string
		Width, Height, Natur int
	}
	bruno.eval(`(() => { const i = document.querySelector('`+thumb+`'); return { alt: i.alt, loading: i.getAttribute('loading'), src: i.src, width: +i.getAttribute('width'), height: +i.getAttribute('height'), natur: i.naturalWidth }; })()`, &img)
	if img.Alt != title || img.Loading != "lazy" || img.Width == 0 || img.Height == 0 {
		t.Errorf("the board's thumbnail is %+v, want alt %q, loading=lazy, width and height set", img, title)
	}
	if img.Natur > 400 {
		t.Errorf("the board shows a %d px wide image: the thumbnail (≤ 400 px) should do", img.Natur)
	}
	bruno.screen("feed-photo")

	// In the post: the same, and a tap opens it large.
	bruno.click(`#feed .post[data-post-id="` + pid + `"] .post-title a`)
	bruno.waitPath("/posts/" + pid)
	bruno.waitJS("thumbnail in the post", `(() => { const i = document.querySelector('main .photos img'); return i && i.alt === `+jsString(title)+` && i.getAttribute('loading') === 'lazy' && i.naturalWidth > 0; })()`)
	bruno.click(`main .photos .photo-open`)
	bruno.waitJS("large photo", `(() => { const i = document.querySelector('dialog[open] img.photo-large'); return i && i.naturalWidth === 1600 && i.alt === `+jsString(title)+`; })()`)
	bruno.screen("photo-large")
	bruno.click(`dialog[open] .actions button`)
	bruno.waitJS("dialog closed", `!document.querySelector('dialog[open]')`)

	// Bruno answers with a photo: its description starts as the title too.
	bruno.fill(`#reply-form [name=body]`, "Ce l'ho, è questo. Passa pure stasera.")
	bruno.attach(`#reply-form input.file-gallery`, cameraPhoto(t, 800, 1200))
	bruno.waitJS("reply photo uploaded", `document.querySelector('#reply-form .photo-item[data-photo-id]')`)
	bruno.fill(`#reply-form .photo-item input[type=text]`, "Trapano blu con la valigetta")
	bruno.click(`#reply-form button[type=submit]`)
	bruno.waitJS("reply with its photo", `[...document.querySelectorAll('#replies .reply .photos img')].some((i) => i.alt === 'Trapano blu con la valigetta' && i.getAttribute('loading') === 'lazy')`)
	// The live frame may show the reply, photo and all, before the answer
	// to the send: the form empties once that answer is in.
	bruno.waitJS("the reply form emptied of its photo after sending", `document.querySelectorAll('#reply-form .photo-item').length === 0`)
	anna.open("/posts/" + pid)
	// The photo loads lazily: Anna scrolls down to the reply, as she would.
	anna.waitJS("the reply's photo in the page", `!!document.querySelector('#replies .reply .photos img')`)
	anna.eval(`document.querySelector('#replies .reply .photos img').scrollIntoView()`, nil)
	anna.waitJS("Anna sees the reply's photo", `[...document.querySelectorAll('#replies .reply .photos img')].some((i) => i.alt === 'Trapano blu con la valigetta' && i.naturalWidth > 0)`)
}

// TestPhotoAltRequired: a photo without a description is not published;
// the page says what is missing, next to the field.
func TestPhotoAltRequired(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU := srv.Register(t, "Anna")
	sid := street(t, srv, annaU, "Via Mascarella")
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.open("/streets/" + sid + "/new?kind=offer")
	anna.choose(`#post-form [name=category]`, "other")
	anna.fill(`#post-form [name=title]`, "Regalo una pianta di basilico")
	anna.fill(`#post-form [name=body]`, "Troppo grande per il mio balcone.")
	anna.attach(`#post-form input.file-gallery`, cameraPhoto(t, 640, 480))
	anna.waitJS("photo uploaded", `document.querySelector('#post-form .photo-item[data-photo-id]')`)
	anna.eval(`document.querySelector('#post-form .photo-item input[type=text]').value = ''`, nil)
	anna.click(`#post-form button[type=submit]`)
	anna.waitJS("description required", `document.querySelector('#post-form .photo-item input[aria-invalid=true]') && document.querySelector('#post-form .form-error')`)
	if p := anna.path(); p != "/streets/"+sid+"/new?kind=offer" {
		t.Errorf("the post left the form (%s) without a photo description", p)
	}
	if titles := feedTitles(t, srv, annaU, sid); len(titles) != 0 {
		t.Errorf("published %q without a photo description", titles)
	}
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	return fmt.Sprintf("%q", s)
}

// TestEditPostPhotos: Anna's ladder post shows the wrong photo. In the
// edit form she sees it with its description, takes it away, adds a better
// one and describes it; the post then shows only the new one, and the old
// image is gone from the server.
func TestEditPostPhotos(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU)
	pid, old := offerWithPhoto(t, srv, annaU, sid, "Presto una scala", "La scala sbagliata")

	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.open("/posts/" + pid + "/edit")
	current := `#edit-post-form .photo-item[data-photo-id="` + old.ID + `"]`
	anna.waitJS("the current photo in the form", `(() => { const li = document.querySelector('`+current+`'); if (!li) return false;
		const i = li.querySelector('img.photo-preview'); return i.naturalWidth > 0 && li.querySelector('input[type=text]').value === 'La scala sbagliata'; })()`)
	anna.click(current + ` .photo-remove`)
	anna.waitJS("the old photo out of the form", `!document.querySelector('`+current+`')`)
	anna.attach(`#edit-post-form input.file-gallery`, cameraPhoto(t, 1200, 1600))
	anna.waitJS("the new photo uploaded", `document.querySelector('#edit-post-form .photo-item[data-photo-id]')`)
	anna.fill(`#edit-post-form .photo-item input[type=text]`, "La scala giusta, aperta")
	anna.screen("edit-post-photos")
	anna.click(`#edit-post-form button[type=submit]`)
	anna.waitJS("back on the post, with the new photo", `location.pathname === '/posts/`+pid+`' &&
		[...document.querySelectorAll('main .photos img')].map((i) => i.alt).join('|') === 'La scala giusta, aperta'`)

	var got struct {
		Photos []struct{ ID, Alt string } `json:"photos"`
	}
	srv.Do(t, "GET", "/posts/"+pid, nil, brunoU.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if len(got.Photos) != 1 || got.Photos[0].ID == old.ID || got.Photos[0].Alt != "La scala giusta, aperta" {
		t.Fatalf("the post has photos %+v, want only the new one", got.Photos)
	}
	srv.DoRaw(t, "GET", old.ThumbURL, nil, brunoU.Token).ExpectError(t, http.StatusNotFound, "photo_not_found")
}

// photoRef is a photo as the API names it.
type photoRef struct {
	ID       string `json:"id"`
	ThumbURL string `json:"thumb_url"`
}

// offerWithPhoto is u's offer titled title in street sid, with a photo
// (uploaded through the API) described alt; it returns the post's id and
// the photo.
func offerWithPhoto(t *testing.T, srv *testutil.Server, u *testutil.User, sid, title, alt string) (string, photoRef) {
	t.Helper()
	body, ct := jpegForm(t)
	var ph photoRef
	srv.Do(t, "POST", "/streets/"+sid+"/photos", body, u.Token, "Content-Type", ct).Expect(t, http.StatusCreated).JSON(t, &ph)
	var p struct {
		ID string `json:"id"`
	}
	srv.Do(t, "POST", "/streets/"+sid+"/posts", map[string]any{"kind": "offer", "category": "lending", "title": title,
		"body": "Chiedete pure.", "photos": []map[string]string{{"id": ph.ID, "alt": alt}}}, u.Token).
		Expect(t, http.StatusCreated).JSON(t, &p)
	return p.ID, ph
}
