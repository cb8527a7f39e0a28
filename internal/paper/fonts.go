package paper

// Fonts are the embedded DejaVu Sans Condensed, regular and bold, for other
// renderers of the street's public face (the link preview image) that must
// draw "è" and "ù" alike wherever the server runs. The slices are shared:
// callers must not change them.
func Fonts() (regular, bold []byte) { return fontRegular, fontBold }
