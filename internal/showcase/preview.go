package showcase

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"sync"

	"civico/internal/paper"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// The preview image: 1200×630 (what Open Graph and Twitter's large card
// show), the street's name and city on the app's green.
const (
	previewW, previewH = 1200, 630
	margin             = 80
	// previewVersion changes when the drawing changes: every ETag with it.
	previewVersion = "1"
	// previewCache bounds the images kept: a few hundred streets' cards.
	previewCache = 256
)

var (
	bgColour    = color.RGBA{0x1f, 0x6f, 0x5c, 0xff} // --accent
	bandColour  = color.RGBA{0x15, 0x4f, 0x41, 0xff} // --accent-strong
	textColour  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	softColour  = color.RGBA{0xe3, 0xf1, 0xec, 0xff} // --accent-soft
	nameSizes   = []float64{88, 76, 66, 56, 48}
	maxNameRows = 3
)

// previews draws preview images, and keeps the last ones drawn. An image
// depends only on the name and city it shows (its key is their hash), so
// a kept image is never stale and no other process need be told anything.
type previews struct {
	regular, bold *opentype.Font

	mu   sync.Mutex
	kept map[string][]byte
}

func newPreviews() (*previews, error) {
	r, b := paper.Fonts()
	regular, err := opentype.Parse(r)
	if err != nil {
		return nil, err
	}
	bold, err := opentype.Parse(b)
	if err != nil {
		return nil, err
	}
	return &previews{regular: regular, bold: bold, kept: map[string][]byte{}}, nil
}

// PreviewTag is the ETag of the preview image of a street called name in
// city (quoted, as the header carries it).
func PreviewTag(name, city string) string {
	sum := sha256.Sum256([]byte(previewVersion + "\x00" + name + "\x00" + city))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// Preview is the PNG preview image of a street called name in city.
func (p *Pages) Preview(name, city string) ([]byte, error) {
	return p.prev.image(name, city)
}

func (v *previews) image(name, city string) ([]byte, error) {
	tag := PreviewTag(name, city)
	v.mu.Lock()
	b, ok := v.kept[tag]
	v.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := v.draw(name, city)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if len(v.kept) >= previewCache {
		clear(v.kept) // rarely: cheaper than tracking use
	}
	v.kept[tag] = b
	v.mu.Unlock()
	return b, nil
}

func (v *previews) face(f *opentype.Font, size float64) (font.Face, error) {
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

func (v *previews) draw(name, city string) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, previewW, previewH))
	draw.Draw(img, img.Bounds(), image.NewUniform(bgColour), image.Point{}, draw.Src)
	const band = 96
	draw.Draw(img, image.Rect(0, previewH-band, previewW, previewH), image.NewUniform(bandColour), image.Point{}, draw.Src)

	brand, err := v.face(v.bold, 40)
	if err != nil {
		return nil, err
	}
	defer brand.Close()
	write(img, brand, softColour, margin, previewH-band/2+14, "Civico")

	// The name: the largest size at which it fits in maxNameRows rows; at
	// the smallest, what does not fit ends in "…".
	width := fixed.I(previewW - 2*margin)
	var rows []string
	var nameFace font.Face
	for i, size := range nameSizes {
		f, err := v.face(v.bold, size)
		if err != nil {
			return nil, err
		}
		rows = wrap(f, name, width)
		if len(rows) <= maxNameRows || i == len(nameSizes)-1 {
			nameFace = f
			break
		}
		f.Close()
	}
	defer nameFace.Close()
	if len(rows) > maxNameRows {
		rows = rows[:maxNameRows]
		rows[maxNameRows-1] = ellipsis(nameFace, rows[maxNameRows-1]+" …", width)
	}
	cityFace, err := v.face(v.regular, 48)
	if err != nil {
		return nil, err
	}
	defer cityFace.Close()
	cityRow := ellipsis(cityFace, city, width)

	lineH := nameFace.Metrics().Height.Ceil()
	cityH := cityFace.Metrics().Height.Ceil()
	block := lineH*len(rows) + 16 + cityH
	top := (previewH-band-block)/2 + nameFace.Metrics().Ascent.Ceil()
	y := top
	for _, r := range rows {
		write(img, nameFace, textColour, margin, y, r)
		y += lineH
	}
	write(img, cityFace, softColour, margin, y-lineH+nameFace.Metrics().Descent.Ceil()+16+cityFace.Metrics().Ascent.Ceil(), cityRow)

	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func write(img draw.Image, f font.Face, c color.Color, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// wrap breaks s into rows no wider than width, at spaces; a word wider
// than a row is cut.
func wrap(f font.Face, s string, width fixed.Int26_6) []string {
	var rows []string
	row := ""
	for _, w := range strings.Fields(s) {
		try := w
		if row != "" {
			try = row + " " + w
		}
		if font.MeasureString(f, try) <= width {
			row = try
			continue
		}
		if row != "" {
			rows = append(rows, row)
		}
		row = ellipsis(f, w, width)
	}
	if row != "" {
		rows = append(rows, row)
	}
	return rows
}

// ellipsis shortens s until it fits width, ending it in "…".
func ellipsis(f font.Face, s string, width fixed.Int26_6) string {
	if font.MeasureString(f, s) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && font.MeasureString(f, string(r)+"…") > width {
		r = r[:len(r)-1]
	}
	return strings.TrimRight(string(r), " ") + "…"
}
