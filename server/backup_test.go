package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"civico/internal/store"
)

// send sends a JSON request to the API with an optional bearer token.
func send(method, url, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url+"/api/v1"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// call is send, failing the test on a network error.
func call(t *testing.T, method, url, path, token string, body any) (int, []byte) {
	t.Helper()
	code, out, err := send(method, url, path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, out
}

// token registers (or, with login, logs in) email and returns its access token.
func token(t *testing.T, url, email string, login bool) string {
	t.Helper()
	path, want, body := "/auth/register", 201, map[string]string{"email": email, "password": "password 123", "name": "Vicino"}
	if login {
		path, want = "/auth/login", 200
		delete(body, "name")
	}
	code, out := call(t, "POST", url, path, "", body)
	if code != want {
		t.Fatalf("%s %s: %d %s", path, email, code, out)
	}
	var r struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.AccessToken == "" {
		t.Fatalf("%s %s: no token in %s", path, email, out)
	}
	return r.AccessToken
}

// created POSTs body to path and returns the id of what it created.
func created(t *testing.T, url, path, token string, body any) string {
	t.Helper()
	code, out := call(t, "POST", url, path, token, body)
	var r struct {
		ID string `json:"id"`
	}
	if code != 201 || json.Unmarshal(out, &r) != nil || r.ID == "" {
		t.Fatalf("create: %d %s", code, out)
	}
	return r.ID
}

func noEnv(string) string { return "" }

// An online backup (`civico backup`, another process than the server)
// taken while writers keep writing, restored (`civico restore`) into a new
// data directory: a server started there has every write acknowledged
// before the backup began, and works. A restore over the running server is
// refused and changes nothing.
func TestOnlineBackupAndRestore(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Skip("backs up the embedded database")
	}
	dir, db := t.TempDir(), testDB()
	c := startChild(t, dir, db, "CIVICO_POSTS_PER_HOUR=1000000")
	alice := token(t, c.url, "alice@example.org", false)
	token(t, c.url, "bob@example.org", false)
	sid := created(t, c.url, "/streets", alice, map[string]string{"name": "Via Saragozza", "city": "Bologna", "description": "Portici"})
	first := created(t, c.url, "/streets/"+sid+"/posts", alice,
		map[string]string{"kind": "offer", "category": "repairs", "title": "Aggiusto biciclette", "body": "Il sabato mattina"})

	// Two writers: one registers neighbours, one posts. Each keeps the
	// writes the server acknowledged.
	var mu sync.Mutex
	var users, posts []string
	stop := make(chan struct{})
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	writer := func(write func(i int) (string, bool)) {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if v, ok := write(i); ok {
				mu.Lock()
				if strings.Contains(v, "@") {
					users = append(users, v)
				} else {
					posts = append(posts, v)
				}
				if len(users) >= 5 && len(posts) >= 20 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}
	}
	wg.Add(2)
	go writer(func(i int) (string, bool) {
		email := fmt.Sprintf("vicino%d@example.org", i)
		code, err := register(c.url, email)
		return email, err == nil && code == 201
	})
	go writer(func(i int) (string, bool) {
		code, out, err := send("POST", c.url, "/streets/"+sid+"/posts", alice,
			map[string]string{"kind": "request", "category": "repairs", "title": fmt.Sprintf("Richiesta %d", i), "body": "Grazie"})
		var r struct {
			ID string `json:"id"`
		}
		return r.ID, err == nil && code == 201 && json.Unmarshal(out, &r) == nil && r.ID != ""
	})
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("the writers did not get going")
	}

	mu.Lock()
	usersBefore, postsBefore := slices.Clone(users), slices.Clone(posts)
	mu.Unlock()
	var out bytes.Buffer
	backups := filepath.Join(t.TempDir(), "backups")
	err := run(context.Background(), []string{"backup", "-data", dir, "-out", backups}, noEnv, &out)
	mu.Lock()
	duringUsers, duringPosts := len(users)-len(usersBefore), len(posts)-len(postsBefore)
	mu.Unlock()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("%s(while it ran: %d registrations, %d posts acknowledged)", out.String(), duringUsers, duringPosts)
	list, err := store.Backups(backups)
	if err != nil || len(list) != 1 {
		t.Fatalf("backups: %v %v", list, err)
	}
	from := list[0].Path
	if !strings.Contains(out.String(), from) {
		t.Fatalf("backup's output does not name it: %q", out.String())
	}

	// The server holds its data directory: no restore over it.
	out.Reset()
	err = run(context.Background(), []string{"restore", "-data", dir, "-from", from}, noEnv, &out)
	if err == nil || !strings.Contains(err.Error(), "in use by another Civico server") {
		t.Fatalf("restore over a running server: %v", err)
	}
	if code, body := call(t, "GET", c.url, "/posts/"+postsBefore[len(postsBefore)-1], alice, nil); code != 200 {
		t.Fatalf("running server after a refused restore: %d %s", code, body)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "db.*")); len(matches) > 0 {
		t.Fatalf("a refused restore moved the database: %v", matches)
	}

	// Restore into a new data directory and start a server there.
	fresh := filepath.Join(t.TempDir(), "data")
	out.Reset()
	if err := run(context.Background(), []string{"restore", "-data", fresh, "-from", from}, noEnv, &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Log(strings.TrimSpace(out.String()))
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(t); err != nil {
		t.Fatalf("first server: %v: %s", err, c.stderr)
	}
	r := startChild(t, fresh, db)
	alice = token(t, r.url, "alice@example.org", true)
	token(t, r.url, "bob@example.org", true)
	for _, email := range usersBefore {
		if code, err := login(r.url, email); err != nil || code != 200 {
			t.Fatalf("registration of %s acknowledged before the backup, lost: %d %v", email, code, err)
		}
	}
	for _, id := range append([]string{first}, postsBefore...) {
		if code, body := call(t, "GET", r.url, "/posts/"+id, alice, nil); code != 200 {
			t.Fatalf("post %s acknowledged before the backup, lost: %d %s", id, code, body)
		}
	}
	code, body := call(t, "GET", r.url, "/posts/"+first, alice, nil)
	if code != 200 || !strings.Contains(string(body), "Aggiusto biciclette") {
		t.Fatalf("read the post: %d %s", code, body)
	}
	next := created(t, r.url, "/streets/"+sid+"/posts", alice,
		map[string]string{"kind": "offer", "category": "repairs", "title": "Dopo il ripristino", "body": "Funziona"})
	if code, body := call(t, "GET", r.url, "/posts/"+next, alice, nil); code != 200 {
		t.Fatalf("a post written after the restore: %d %s", code, body)
	}
	t.Logf("%d registrations and %d posts acknowledged before the backup, all restored", len(usersBefore), len(postsBefore)+1)
}

var pathRE = regexp.MustCompile(`"path":"([^"]+)"`)

// CIVICO_BACKUP_INTERVAL: a server whose newest backup is overdue backs up
// at once, then keeps the newest CIVICO_BACKUP_KEEP; the backup restores.
func TestScheduledBackupKeepsNewest(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Skip("backs up the embedded database")
	}
	dir, db := t.TempDir(), testDB()
	c := startChild(t, dir, db)
	if code, err := register(c.url, "before@example.org"); err != nil || code != 201 {
		t.Fatalf("register: %d %v", code, err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.wait(t); err != nil {
		t.Fatalf("%v: %s", err, c.stderr)
	}
	backups := filepath.Join(dir, "backups")
	old := []string{"civico-20200101T000000.000Z", "civico-20200102T000000.000Z", "civico-20200103T000000.000Z"}
	for _, name := range old {
		if err := os.MkdirAll(filepath.Join(backups, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	c = startChild(t, dir, db, "CIVICO_BACKUP_INTERVAL=1h", "CIVICO_BACKUP_KEEP=2")
	var path string
	deadline := time.After(60 * time.Second)
	for path == "" {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("server exited: %s", c.stderr)
			}
			if strings.Contains(line, `"backup failed`) {
				t.Fatalf("scheduled backup: %s", line)
			}
			if strings.Contains(line, `"backup written"`) {
				m := pathRE.FindStringSubmatch(line)
				if m == nil {
					t.Fatalf("no path in %s", line)
				}
				path = m[1]
			}
		case <-deadline:
			t.Fatal("no scheduled backup")
		}
	}
	list, err := store.Backups(backups)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, filepath.Base(b.Path))
	}
	if want := []string{old[2], filepath.Base(path)}; !slices.Equal(names, want) {
		t.Fatalf("backups kept %v, want %v", names, want)
	}
	fresh := t.TempDir()
	if err := run(context.Background(), []string{"restore", "-data", fresh, "-from", path}, noEnv, io.Discard); err != nil {
		t.Fatalf("restore: %v", err)
	}
	r := startChild(t, fresh, db)
	if code, err := login(r.url, "before@example.org"); err != nil || code != 200 {
		t.Fatalf("login on the restored scheduled backup: %d %v", code, err)
	}
}
