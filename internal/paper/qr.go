package paper

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"codeberg.org/go-pdf/fpdf"
	"github.com/yeqown/go-qrcode/v2"
)

// Sizes of QRPNG, in pixels.
const (
	DefaultQRSize = 512
	MinQRSize     = 128
	MaxQRSize     = 2048
)

// quietZone is the white border a QR code needs around it, in modules
// (the standard's four).
const quietZone = 4

// errEmptyURL: a QR code of nothing would scan as nothing.
var errEmptyURL = errors.New("paper: empty URL for a QR code")

// bitmap is a QR code's modules, [row][column], true for dark.
type bitmap [][]bool

// bitmapWriter is the qrcode.Writer that keeps the matrix: the library's
// image writers are separate modules we do without.
type bitmapWriter struct{ bits bitmap }

func (w *bitmapWriter) Write(mat qrcode.Matrix) error {
	w.bits = mat.Bitmap()
	return nil
}

func (w *bitmapWriter) Close() error { return nil }

// encode builds the QR code of text. Medium error correction: a printed
// code survives a crease or a smudge, and the modules stay large.
func encode(text string) (bitmap, error) {
	if text == "" {
		return nil, errEmptyURL
	}
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, fmt.Errorf("paper: qr code: %w", err)
	}
	var w bitmapWriter
	if err := q.Save(&w); err != nil {
		return nil, fmt.Errorf("paper: qr code: %w", err)
	}
	if len(w.bits) == 0 {
		return nil, errors.New("paper: qr code: empty matrix")
	}
	return w.bits, nil
}

// QRPNG draws the QR code of url as a black-on-white PNG of about size
// pixels a side (0: DefaultQRSize; bounded to MinQRSize..MaxQRSize), with
// the quiet zone. Each module is a whole number of pixels, so the code
// stays sharp; what is left of size is white margin.
func QRPNG(url string, size int) ([]byte, error) {
	bits, err := encode(url)
	if err != nil {
		return nil, err
	}
	size = ClampQRSize(size)
	modules := len(bits) + 2*quietZone
	scale := max(size/modules, 1)
	side := max(size, modules*scale)
	off := (side - modules*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	// The zero index is white: only the dark modules are painted.
	for y, row := range bits {
		for x, dark := range row {
			if !dark {
				continue
			}
			x0, y0 := off+(x+quietZone)*scale, off+(y+quietZone)*scale
			for py := y0; py < y0+scale; py++ {
				line := img.Pix[py*img.Stride+x0 : py*img.Stride+x0+scale]
				for i := range line {
					line[i] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("paper: png: %w", err)
	}
	return buf.Bytes(), nil
}

// ClampQRSize is the size QRPNG draws for a requested size.
func ClampQRSize(size int) int {
	switch {
	case size == 0:
		return DefaultQRSize
	case size < MinQRSize:
		return MinQRSize
	case size > MaxQRSize:
		return MaxQRSize
	}
	return size
}

// drawQR draws the code as filled rectangles, a side mm square at (x, y)
// including the quiet zone: vector modules print crisp at any resolution.
// Each row's run of dark modules is one rectangle, a little taller than
// the module, so that no hairline of white shows between rows.
func drawQR(pdf *fpdf.Fpdf, bits bitmap, x, y, side float64) {
	modules := float64(len(bits) + 2*quietZone)
	m := side / modules
	pdf.SetFillColor(255, 255, 255)
	pdf.Rect(x, y, side, side, "F")
	pdf.SetFillColor(0, 0, 0)
	for r, row := range bits {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < len(row) && row[c] {
				c++
			}
			bleed := 0.0
			if r+1 < len(bits) {
				bleed = m * 0.02
			}
			pdf.Rect(x+float64(start+quietZone)*m, y+float64(r+quietZone)*m, float64(c-start)*m, m+bleed, "F")
		}
	}
}
