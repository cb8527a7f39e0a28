package notices

import "civico/internal/mail"

// Mail is a mail as the outbox takes it.
type Mail = mail.Message
