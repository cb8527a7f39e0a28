package auth_test

import (
	"context"
	"sync"
	"testing"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/store"
)

// mailed is one call to the Postman: what kind of mail, the account's
// address (to), the address written to, and the link's token.
type mailed struct {
	kind    string // "reset", "verify", "changing", "verified"
	to      string
	address string
	token   string
}

// postbox is a Postman that records what it was asked to send. It tests
// auth's side only; the mails themselves are tested end to end against a
// real SMTP server in internal/mail and internal/api.
type postbox struct {
	mu    sync.Mutex
	mails []mailed
}

func (p *postbox) add(m mailed) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mails = append(p.mails, m)
	return nil
}

func (p *postbox) PasswordReset(_ context.Context, to auth.Account, token string) error {
	return p.add(mailed{kind: "reset", to: to.Email, address: to.Email, token: token})
}

func (p *postbox) VerifyAddress(_ context.Context, to auth.Account, address, token string) error {
	return p.add(mailed{kind: "verify", to: to.Email, address: address, token: token})
}

func (p *postbox) AddressChanging(_ context.Context, to auth.Account, newAddress string) error {
	return p.add(mailed{kind: "changing", to: to.Email, address: newAddress})
}

func (p *postbox) AddressVerified(_ context.Context, address string) error {
	return p.add(mailed{kind: "verified", address: address})
}

// sent returns the mails of kind written to address, oldest first.
func (p *postbox) sent(kind, address string) []mailed {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []mailed
	for _, m := range p.mails {
		if m.kind == kind && m.address == address {
			out = append(out, m)
		}
	}
	return out
}

// token is the link of the latest mail of kind written to address.
func (p *postbox) token(t *testing.T, kind, address string) string {
	t.Helper()
	ms := p.sent(kind, address)
	if len(ms) == 0 || ms[len(ms)-1].token == "" {
		t.Fatalf("no %s mail with a link to %s; mails: %+v", kind, address, p.all())
	}
	return ms[len(ms)-1].token
}

func (p *postbox) all() []mailed {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]mailed(nil), p.mails...)
}

// mailService is newService with a postbox as its Postman.
func mailService(t *testing.T, opts auth.Options) (*auth.Service, *clock.Fake, *store.Store, *postbox) {
	t.Helper()
	pb := &postbox{}
	opts.Postman = pb
	s, c, st := newService(t, opts)
	return s, c, st, pb
}

// twoProcesses is mailService with a second service over the same
// database, as another process would build it, sharing the postbox.
func twoProcesses(t *testing.T, opts auth.Options) (a, b *auth.Service, c *clock.Fake, pb *postbox) {
	t.Helper()
	a, c, st, pb := mailService(t, opts)
	opts.Postman = pb
	b, err := auth.New(context.Background(), st, c, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, c, pb
}
