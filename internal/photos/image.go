package photos

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // registers PNG with image.Decode

	"civico/internal/fault"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers WebP with image.Decode
)

// Limits of the images.
const (
	// MaxBytes bounds an upload (the api lets this much through on the
	// photo route only).
	MaxBytes = 10 << 20
	// MaxPixels bounds the pixels an upload may declare: more is refused
	// from the header, before a pixel is decoded (a 50 000 × 50 000 PNG of
	// a few KB would otherwise ask for 10 GB).
	MaxPixels = 40_000_000
	// FullSide and ThumbSide are the longest sides of the stored sizes.
	FullSide  = 1600
	ThumbSide = 400
	// Quality is the JPEG quality of both sizes.
	Quality = 82
)

// Errors of decoding.
var (
	ErrNotImage      = fault.New(fault.Invalid, "photo_invalid", "the file is not a JPEG, PNG or WebP image")
	ErrTooManyPixels = fault.New(fault.TooLarge, "photo_too_many_pixels", "the image has more than 40 megapixels")
	ErrTooLarge      = fault.New(fault.TooLarge, "photo_too_large", "the file is larger than 10 MB")
)

// formats are the decoders accepted, whatever else the binary registers
// with package image (a GIF decoder, say).
var formats = map[string]bool{"jpeg": true, "png": true, "webp": true}

// Processed is an upload re-encoded: both sizes as JPEG, nothing of the
// original's metadata (EXIF, XMP, ICC, comments) carried over, since only
// pixels go through the encoder.
type Processed struct {
	Full, Thumb                            []byte
	Width, Height, ThumbWidth, ThumbHeight int
}

// Check reads only the header of b: the format must be one accepted and
// the image at most MaxPixels. It returns the format and the size.
func Check(b []byte) (string, image.Config, error) {
	if len(b) > MaxBytes {
		return "", image.Config{}, ErrTooLarge
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || !formats[format] {
		return "", image.Config{}, ErrNotImage
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", image.Config{}, ErrNotImage
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return "", image.Config{}, ErrTooManyPixels
	}
	return format, cfg, nil
}

// Decode checks b's header (Check), then decodes its pixels. It also
// returns the EXIF orientation of a JPEG (1–8, 0 when none), which
// Process applies once the image is small.
func Decode(b []byte) (image.Image, int, error) {
	format, cfg, err := Check(b)
	if err != nil {
		return nil, 0, err
	}
	img, got, err := image.Decode(bytes.NewReader(b))
	if err != nil || got != format {
		return nil, 0, ErrNotImage
	}
	// The decoders size their buffers from the header Check read; a
	// decoder that disagreed with itself would show here.
	if r := img.Bounds(); r.Dx() != cfg.Width || r.Dy() != cfg.Height {
		return nil, 0, ErrNotImage
	}
	o := 0
	if format == "jpeg" {
		o = exifOrientation(b)
	}
	return img, o, nil
}

// Process decodes b and re-encodes it: the longest side at most FullSide,
// and a thumbnail of at most ThumbSide, both JPEG at Quality.
func Process(b []byte) (Processed, error) {
	img, o, err := Decode(b)
	if err != nil {
		return Processed{}, err
	}
	full := orient(scale(img, FullSide), o)
	thumb := scale(full, ThumbSide)
	var out Processed
	if out.Full, err = encode(full); err != nil {
		return Processed{}, err
	}
	if out.Thumb, err = encode(thumb); err != nil {
		return Processed{}, err
	}
	out.Width, out.Height = full.Bounds().Dx(), full.Bounds().Dy()
	out.ThumbWidth, out.ThumbHeight = thumb.Bounds().Dx(), thumb.Bounds().Dy()
	return out, nil
}

// fit is w×h scaled so that its longest side is at most side.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, (h*side+w/2)/w)
	}
	return max(1, (w*side+h/2)/h), side
}

// scale returns img with its longest side at most side, as an *image.RGBA
// (the JPEG encoder's fast path) on white, so a transparent PNG does not
// turn black. An image already small enough is only converted.
func scale(img image.Image, side int) *image.RGBA {
	b := img.Bounds()
	w, h := fit(b.Dx(), b.Dy(), side)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	op := draw.Src
	if o, ok := img.(interface{ Opaque() bool }); !ok || !o.Opaque() {
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		op = draw.Over
	}
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), img, b.Min, op)
		return dst
	}
	// A kernel scaler keeps a float buffer of source rows × destination
	// columns × 32 bytes: 150 MB for a 12 MP photo down to 1600 px. So the
	// upload itself (the PWA scales photos on the phone; other clients may
	// not) takes ApproxBiLinear, which needs none and is several times
	// faster; CatmullRom, sharper, makes the thumbnail from the 1600 px
	// image (a buffer of 20 MB at most).
	if max(b.Dx(), b.Dy()) > FullSide {
		draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, op, nil)
		return dst
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, op, nil)
	return dst
}

func encode(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: Quality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// orient turns img as the EXIF orientation o (1–8) says the camera held
// it; anything else leaves it as it is. It runs on the scaled image (at
// most FullSide), so it costs little.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return img
	}
	w, h := img.Rect.Dx(), img.Rect.Dy()
	ow, oh := w, h
	if o >= 5 { // 5–8 swap the sides
		ow, oh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // upside down
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6: // turned right
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8: // turned left
				dx, dy = y, w-1-x
			}
			si, di := img.PixOffset(x, y), dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+4], img.Pix[si:si+4])
		}
	}
	return dst
}

// exifOrientation reads the Orientation tag (0x0112) of a JPEG's EXIF
// APP1 segment, 0 when there is none or it does not parse. It reads only
// the markers before the first scan, bounded by b.
func exifOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 0
		}
		marker := b[i+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF {
			i++
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // the scan: no metadata past it matters
			return 0
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if n < 2 || i+2+n > len(b) {
			return 0
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 0
}

// tiffOrientation finds the Orientation in the first IFD of a TIFF header.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var u16 func([]byte) int
	var u32 func([]byte) int
	switch string(t[:2]) {
	case "II":
		u16 = func(p []byte) int { return int(p[0]) | int(p[1])<<8 }
		u32 = func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 | int(p[3]&0x7F)<<24 }
	case "MM":
		u16 = func(p []byte) int { return int(p[1]) | int(p[0])<<8 }
		u32 = func(p []byte) int { return int(p[3]) | int(p[2])<<8 | int(p[1])<<16 | int(p[0]&0x7F)<<24 }
	default:
		return 0
	}
	off := u32(t[4:8])
	if off < 8 || off+2 > len(t) {
		return 0
	}
	count := u16(t[off : off+2])
	for k := 0; k < count; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if u16(t[e:e+2]) == 0x0112 {
			if u16(t[e+2:e+4]) != 3 { // SHORT
				return 0
			}
			return u16(t[e+8 : e+10])
		}
	}
	return 0
}
