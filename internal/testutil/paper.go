package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// PDFs and QR codes are read as a person and a phone would: with
// poppler's pdftotext and pdftoppm, and zbar's zbarimg (Debian packages
// poppler-utils and zbar-tools; .ci/run installs them).

// needTool skips the test without the command, or fails it under CI.
func needTool(tb testing.TB, name, pkg string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	msg := name + " is missing: apt-get install " + pkg
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// PDFText is the text of a PDF, page by page (form feeds between pages).
func PDFText(tb testing.TB, pdf []byte) string {
	tb.Helper()
	needTool(tb, "pdftotext", "poppler-utils")
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// PDFPages counts a PDF's pages.
func PDFPages(tb testing.TB, pdf []byte) int {
	tb.Helper()
	return strings.Count(PDFText(tb, pdf), "\f")
}

// QRCodes decodes every QR code in a PNG image; none fails the test.
func QRCodes(tb testing.TB, png []byte) []string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "qr.png")
	if err := os.WriteFile(p, png, 0o600); err != nil {
		tb.Fatal(err)
	}
	codes := qrCodes(tb, p)
	if len(codes) == 0 {
		tb.Fatal("zbarimg found no QR code in the image")
	}
	return codes
}

// qrCodes decodes the QR codes of the image file p (none: nil).
func qrCodes(tb testing.TB, p string) []string {
	tb.Helper()
	needTool(tb, "zbarimg", "zbar-tools")
	out, err := exec.Command("zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", p).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 4 {
		return nil // zbarimg's "no symbol found"
	}
	if err != nil {
		tb.Fatalf("zbarimg: %v", err)
	}
	var codes []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			codes = append(codes, l)
		}
	}
	sort.Strings(codes)
	return codes
}

// PDFQRCodes decodes the QR codes printed on a PDF's pages (rendered at
// 150 dpi, as a phone's camera sees a printed sheet).
func PDFQRCodes(tb testing.TB, pdf []byte) []string {
	tb.Helper()
	needTool(tb, "pdftoppm", "poppler-utils")
	dir := tb.TempDir()
	in := filepath.Join(dir, "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("pdftoppm", "-r", "150", "-png", in, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		tb.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	var codes []string
	for _, p := range pages {
		codes = append(codes, qrCodes(tb, p)...)
	}
	sort.Strings(codes)
	return codes
}
