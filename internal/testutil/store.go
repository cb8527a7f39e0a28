package testutil

import (
	"context"
	"os"
	"testing"

	"civico/internal/store"
)

// Store opens a store of its own for a service-level test: the embedded
// database in a temp dir, or a fresh database on MONGODB_URI.
func Store(tb testing.TB) *store.Store {
	tb.Helper()
	cfg := store.Config{DataDir: tb.TempDir()}
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		cfg = store.Config{URI: uri, Database: "civico_test_" + RandomHex(6)}
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if cfg.URI != "" {
			_ = st.Database().Drop(context.Background())
		}
		_ = st.Close(context.Background())
	})
	return st
}
