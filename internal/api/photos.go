package api

import (
	"io"
	"net/http"

	"civico/internal/fault"
	"civico/internal/photos"

	"github.com/gofiber/fiber/v2"
)

// Photos: images for posts and replies. Every rule lives in photos; here
// the multipart form is read and the bytes sent with their headers.

var errNoFile = fault.New(fault.BadRequest, "file_required", "send the image as multipart/form-data, field \"file\"")

// photoCache lets the member's browser keep an image a day without asking
// (a photo's bytes never change under its id), and no shared cache keep it
// at all: it is for the street's members only.
const photoCache = "private, max-age=86400"

func (h *handlers) photoRoutes(v1 fiber.Router) {
	if h.d.Photos == nil {
		return
	}
	v1.Post("/streets/:sid/photos", h.requireUser, h.uploadPhoto)
	v1.Get("/photos/:id", h.requireUser, h.photoImage(photos.SizeFull))
	v1.Get("/photos/:id/thumb", h.requireUser, h.photoImage(photos.SizeThumb))
}

// uploadPhoto reads the form's file (the body is bounded by UploadLimit)
// and hands its bytes to the service.
func (h *handlers) uploadPhoto(c *fiber.Ctx) error {
	fh, err := c.FormFile("file")
	if err != nil {
		return errNoFile
	}
	if fh.Size > photos.MaxBytes {
		return photos.ErrTooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return errNoFile
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, photos.MaxBytes+1))
	if err != nil {
		return errNoFile
	}
	p, err := h.d.Photos.Upload(c.UserContext(), principal(c), param(c, "sid"), b)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(p)
}

func (h *handlers) photoImage(size string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		img, err := h.d.Photos.Image(c.UserContext(), principal(c), param(c, "id"), size, c.Get(fiber.HeaderIfNoneMatch))
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, photoCache)
		c.Set(fiber.HeaderETag, img.ETag)
		c.Set("X-Content-Type-Options", "nosniff")
		if img.NotModified {
			return c.SendStatus(http.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, "image/jpeg")
		return c.Send(img.Data)
	}
}
