package photos

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

// BenchmarkUpload is the CPU cost of one upload of a 12 MP phone photo
// (4000 × 3000 JPEG): decode, scale to 1600 and 400, encode both. The
// database writes (about 300 KB in a few chunk documents) are not in it.
// "serial" is one core's cost per upload; "parallel" runs on every core
// (GOMAXPROCS), and uploads/s is what the machine sustains with nothing
// else to do: a server keeping its fan-out goals runs them in Concurrent
// slots (default half of GOMAXPROCS) beside everything else, which
// scripts/photobench measures.
func BenchmarkUpload(b *testing.B) {
	src := photo12MP()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Logf("source: %d×%d JPEG, %d bytes", src.Bounds().Dx(), src.Bounds().Dy(), len(data))
	b.Run("serial", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Process(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := Process(data); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "uploads/s")
	})
}

// photo12MP is a 4000 × 3000 image with a photo's kind of detail: smooth
// gradients and fine texture (a JPEG of it is a few MB, as a phone's).
func photo12MP() image.Image {
	const w, h = 4000, 3000
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	seed := uint32(1)
	for y := range h {
		for x := range w {
			seed = seed*1664525 + 1013904223
			img.Y[y*img.YStride+x] = uint8((x*255/w+y*255/h)/2) + uint8(seed>>28)
		}
	}
	for y := range h / 2 {
		for x := range w / 2 {
			img.Cb[y*img.CStride+x] = uint8(x * 255 / (w / 2))
			img.Cr[y*img.CStride+x] = uint8(y * 255 / (h / 2))
		}
	}
	return img
}
