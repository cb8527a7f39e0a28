package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// Answer replies yes to a question on subject (wildcards allowed) when fn
// says so, and stays silent otherwise: Ask hears from those who can say
// yes. fn runs on the subscription's goroutine and must be quick.
func (b *Bus) Answer(subject string, fn func(subject string, data []byte) bool) (stop func(), err error) {
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		if m.Reply != "" && fn(m.Subject, m.Data) {
			_ = m.Respond([]byte{1})
		}
	})
	if err != nil {
		return nil, err
	}
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(5 * time.Second)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Ask tells whether another process answers yes on subject within wait.
// This process never hears its own question (the connection does not echo):
// callers look at home first. With nobody listening NATS says so at once,
// so a "no" costs wait only when some process is slow to answer.
func (b *Bus) Ask(ctx context.Context, subject string, data []byte, wait time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_, err := b.nc.RequestWithContext(ctx, subject, data)
	return err == nil
}
