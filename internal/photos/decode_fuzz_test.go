package photos

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// FuzzDecode gives the decoder arbitrary bytes: it must never panic, and
// whatever it decodes is within MaxPixels and matches the header Check
// read; the EXIF reader must not panic either.
func FuzzDecode(f *testing.F) {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 12))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.SetNRGBA(0, 0, color.NRGBA{A: 10})
	var j, p bytes.Buffer
	_ = jpeg.Encode(&j, img, nil)
	_ = png.Encode(&p, img)
	f.Add(j.Bytes())
	f.Add(p.Bytes())
	// An EXIF segment with orientation 8, big-endian.
	exif := []byte("Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00")
	seg := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0, byte(len(exif) + 2)}, exif...)
	f.Add(append(seg, j.Bytes()[2:]...))
	for _, name := range []string{"testdata/alpha.lossless.webp", "testdata/large.lossy.webp"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\xc3\x50\x00\x00\xc3\x50\x08\x06\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = exifOrientation(b)
		_, cfg, cerr := Check(b)
		if cerr == nil && int64(cfg.Width)*int64(cfg.Height) > 1<<20 {
			// Allowed but large: decoding up to 40 MP takes a second or
			// more, which would leave the fuzzer a handful of inputs.
			return
		}
		img, o, err := Decode(b)
		if err != nil {
			return
		}
		if cerr != nil {
			t.Fatalf("Decode accepted what Check refused: %v", cerr)
		}
		r := img.Bounds()
		if int64(r.Dx())*int64(r.Dy()) > MaxPixels || r.Dx() != cfg.Width || r.Dy() != cfg.Height {
			t.Fatalf("decoded %v from a header of %d×%d", r, cfg.Width, cfg.Height)
		}
		if o < 0 || o > 0xFFFF {
			t.Fatalf("orientation %d", o)
		}
		if r.Dx()*r.Dy() <= 1<<16 { // small enough to process in a fuzz run
			if _, err := Process(b); err != nil {
				t.Fatalf("Process: %v", err)
			}
		}
	})
}
