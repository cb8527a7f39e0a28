package photos_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"civico/internal/auth"
	"civico/internal/photos"
	"civico/internal/posts"
	"civico/internal/testutil"
)

// env is the streets and posts of testutil.Services, with posts taking
// photos as the app wires it.
type env struct {
	*testutil.Services
	photos *photos.Service
	posts  *posts.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := testutil.NewServices(t, posts.Options{})
	e := &env{Services: s, photos: photos.New(s.Store, s.Clock, s.Streets, nil, photos.Options{})}
	var err error
	if e.posts, err = posts.New(s.Ctx, s.Store, s.Log, s.Clock, s.Streets, nil, posts.Options{PostsPerHour: 10000, Photos: e.photos}); err != nil {
		t.Fatal(err)
	}
	return e
}

// upload stores b as u's photo in the street.
func (e *env) upload(t *testing.T, u auth.Principal, streetID string, b []byte) photos.Photo {
	t.Helper()
	ph, err := e.photos.Upload(e.Ctx, u, streetID, b)
	if err != nil {
		t.Fatal(err)
	}
	return ph
}

// picture is a w×h image with some detail (a gradient and stripes), so
// the encoders have work to do.
func picture(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: uint8((x ^ y) & 0xFF), A: a})
		}
	}
	return img
}

func jpegOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withEXIF puts an APP1 Exif segment right after a JPEG's SOI, as a
// phone's camera does: the orientation, and a GPS IFD with the latitude
// and longitude of a home in Bologna (44° 29' 38" N, 11° 21' 5" E).
func withEXIF(t testing.TB, jpg []byte, orientation uint16) []byte {
	t.Helper()
	le := binary.LittleEndian
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, le, uint32(8)) // IFD0 at 8
	// IFD0: 2 entries (orientation, GPS IFD pointer), next IFD 0.
	binary.Write(&tiff, le, uint16(2))
	entry := func(tag, typ uint16, count, value uint32) {
		binary.Write(&tiff, le, tag)
		binary.Write(&tiff, le, typ)
		binary.Write(&tiff, le, count)
		binary.Write(&tiff, le, value)
	}
	entry(0x0112, 3, 1, uint32(orientation))
	gpsAt := uint32(8 + 2 + 2*12 + 4)
	entry(0x8825, 4, 1, gpsAt)
	binary.Write(&tiff, le, uint32(0))
	// GPS IFD: LatitudeRef, Latitude, LongitudeRef, Longitude.
	binary.Write(&tiff, le, uint16(4))
	dataAt := gpsAt + 2 + 4*12 + 4
	entry(0x0001, 2, 2, uint32('N'))
	entry(0x0002, 5, 3, dataAt)
	entry(0x0003, 2, 2, uint32('E'))
	entry(0x0004, 5, 3, dataAt+24)
	binary.Write(&tiff, le, uint32(0))
	for _, v := range []uint32{44, 1, 29, 1, 38, 1, 11, 1, 21, 1, 5, 1} {
		binary.Write(&tiff, le, v)
	}
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// segments lists the markers of a JPEG's segments up to its first scan.
func segments(t testing.TB, b []byte) []byte {
	t.Helper()
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		t.Fatalf("not a JPEG: % x", b[:min(len(b), 8)])
	}
	var out []byte
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		out = append(out, m)
		if m == 0xDA {
			return out
		}
		i += 2 + (int(b[i+2])<<8 | int(b[i+3]))
	}
	return out
}

// hugePNG is the header of a 50 000 × 50 000 RGBA PNG (10 GB of pixels)
// with a few bytes of compressed data: what a decompression bomb starts
// with.
func hugePNG() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 50000)
	binary.BigEndian.PutUint32(ihdr[4:], 50000)
	ihdr[8], ihdr[9] = 8, 6 // 8 bits, RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00})
	chunk("IEND", nil)
	return b.Bytes()
}
