package api

import (
	"github.com/gofiber/fiber/v2"
)

// paperRoutes: the street on paper, for its admins (and the board for the
// volunteers of a linked association's desk).
func (h *handlers) paperRoutes(v1 fiber.Router) {
	if h.d.Paper == nil {
		return
	}
	v1.Get("/streets/:sid/board.pdf", h.requireUser, h.boardPDF)
	v1.Get("/streets/:sid/invites/:code/flyer.pdf", h.requireUser, h.flyerPDF)
	v1.Get("/streets/:sid/invites/:code/qr.png", h.requireUser, h.inviteQR)
}

func (h *handlers) boardPDF(c *fiber.Ctx) error {
	b, err := h.d.Paper.BoardPDF(c.UserContext(), principal(c), c.Params("sid"), c.Query("lang"))
	if err != nil {
		return err
	}
	return sendFile(c, "application/pdf", "bacheca.pdf", b)
}

func (h *handlers) flyerPDF(c *fiber.Ctx) error {
	b, err := h.d.Paper.FlyerPDF(c.UserContext(), principal(c), c.Params("sid"), c.Params("code"), c.Query("lang"))
	if err != nil {
		return err
	}
	return sendFile(c, "application/pdf", "volantino.pdf", b)
}

func (h *handlers) inviteQR(c *fiber.Ctx) error {
	// The service bounds the size (0: its default); here it need only be a number.
	size, err := queryInt(c, "size")
	if err != nil {
		return err
	}
	b, err := h.d.Paper.InviteQR(c.UserContext(), principal(c), c.Params("sid"), c.Params("code"), size)
	if err != nil {
		return err
	}
	return sendFile(c, "image/png", "invito.png", b)
}

// sendFile answers with a generated file, shown inline (a phone opens a
// PDF in its viewer) and named for a download.
func sendFile(c *fiber.Ctx, contentType, name string, b []byte) error {
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, `inline; filename="`+name+`"`)
	return c.Send(b)
}
