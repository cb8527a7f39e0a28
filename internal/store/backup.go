package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Backups of the embedded engine.
//
// FerretDB 1.24's SQLite backend keeps each database in one SQLite file,
// <data>/db/<database>.sqlite (with its -wal and -shm files while open, WAL
// mode). The collections' metadata lives inside that file (the table
// _ferretdb_collections), so the *.sqlite files are the whole database;
// the lock and the socket beside db/ are not data.
//
// A backup runs `VACUUM INTO` on each file through a connection of its own:
// that is one read transaction, a consistent snapshot of the file while
// the server goes on writing (in WAL mode readers and the writer do not
// wait for each other). It may run in the server (the schedule) or in
// another process (`civico backup`). It is written under a hidden name
// (.partial-*) and renamed once complete, checked and synced, so a backup
// that is named civico-<time> is always whole. Its MANIFEST.json lists each
// file's size and SHA-256, which a restore checks.
//
// Every write acknowledged before a backup began is in it: the snapshot of
// each file starts after the backup's start time, which names it.

// ErrNotEmbedded is returned by Store.Backup on MongoDB, which is backed up
// with its own tools (README, "Backups").
var ErrNotEmbedded = errors.New("store: backups cover the embedded database only; back up MongoDB with its own tools")

const (
	backupPrefix  = "civico-"
	backupLayout  = "20060102T150405.000Z" // UTC; sorts as it reads
	partialPrefix = ".partial-"
	manifestName  = "MANIFEST.json"
	dbSubdir      = "db"
	sqliteExt     = ".sqlite"
	// partialMaxAge is how old a .partial-* directory (left by a backup
	// that crashed) must be before Prune removes it.
	partialMaxAge = 24 * time.Hour
)

// Manifest describes a backup.
type Manifest struct {
	// Started is when the backup began: every write acknowledged before it
	// is in the backup.
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Engine   string       `json:"engine"`
	Files    []BackupFile `json:"files"`
}

// BackupFile is one database file of a backup, under db/.
type BackupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupInfo is a complete backup in a backup directory.
type BackupInfo struct {
	Path    string
	Started time.Time
}

// Backup snapshots the embedded database in s's data directory into a new
// backup under outDir.
func (s *Store) Backup(ctx context.Context, outDir string) (BackupInfo, Manifest, error) {
	if s.embedded == nil {
		return BackupInfo{}, Manifest{}, ErrNotEmbedded
	}
	return backupDB(ctx, s.embedded.dbDir, outDir)
}

// Backup snapshots the embedded database of the data directory dataDir
// into a new backup under outDir, whether a server runs on it or not.
func Backup(ctx context.Context, dataDir, outDir string) (BackupInfo, Manifest, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return BackupInfo{}, Manifest{}, fmt.Errorf("store: backup: %w", err)
	}
	return backupDB(ctx, filepath.Join(abs, dbSubdir), outDir)
}

func backupDB(ctx context.Context, dbDir, outDir string) (info BackupInfo, m Manifest, err error) {
	started := time.Now().UTC()
	names, err := databaseFiles(dbDir)
	if err != nil {
		return info, m, err
	}
	if len(names) == 0 {
		return info, m, fmt.Errorf("store: backup: no database in %s", dbDir)
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	tmp, err := os.MkdirTemp(outDir, partialPrefix)
	if err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, dbSubdir), 0o700); err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	m = Manifest{Started: started, Engine: "FerretDB 1.24, SQLite"}
	for _, name := range names {
		dst := filepath.Join(tmp, dbSubdir, name)
		if err := snapshot(ctx, filepath.Join(dbDir, name), dst); err != nil {
			return info, m, fmt.Errorf("store: backup %s: %w", name, err)
		}
		f, err := describe(dst)
		if err != nil {
			return info, m, fmt.Errorf("store: backup %s: %w", name, err)
		}
		m.Files = append(m.Files, f)
	}
	m.Finished = time.Now().UTC()
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := writeSynced(filepath.Join(tmp, manifestName), b); err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	if err := syncDir(filepath.Join(tmp, dbSubdir)); err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	if err := syncDir(tmp); err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	// Named after its start; two backups started in the same millisecond
	// take the next free one.
	for t := started; ; t = t.Add(time.Millisecond) {
		path := filepath.Join(outDir, backupPrefix+t.Format(backupLayout))
		if _, serr := os.Lstat(path); serr == nil {
			continue
		}
		if err = os.Rename(tmp, path); err != nil {
			if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
				continue
			}
			return info, m, fmt.Errorf("store: backup: %w", err)
		}
		info = BackupInfo{Path: path, Started: t}
		break
	}
	if err := syncDir(outDir); err != nil {
		return info, m, fmt.Errorf("store: backup: %w", err)
	}
	return info, m, nil
}

// databaseFiles lists the engine's database files in dbDir, as FerretDB
// finds them (*.sqlite).
func databaseFiles(dbDir string) ([]string, error) {
	ents, err := os.ReadDir(dbDir)
	if err != nil {
		return nil, fmt.Errorf("store: database directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), sqliteExt) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// sqliteURI is a file: URI for path (escaped) with the query params.
func sqliteURI(path, params string) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: params}
	return u.String()
}

// snapshot writes a consistent copy of the SQLite file src to dst.
func snapshot(ctx context.Context, src, dst string) error {
	// Read-only: a backup never changes the live database. busy_timeout as
	// FerretDB sets it: a checkpoint in progress is waited for.
	db, err := sql.Open("sqlite", sqliteURI(src, "mode=ro&_pragma=busy_timeout(10000)"))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("vacuum into: %w", err)
	}
	if err := check(ctx, dst); err != nil {
		return err
	}
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// check runs SQLite's quick_check on the file at path, read-only.
func check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", sqliteURI(path, "mode=ro"))
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return fmt.Errorf("check %s: %w", filepath.Base(path), err)
	}
	if res != "ok" {
		return fmt.Errorf("check %s: %s", filepath.Base(path), res)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "_ferretdb_collections"`).Scan(&n); err != nil {
		return fmt.Errorf("check %s: no FerretDB metadata: %w", filepath.Base(path), err)
	}
	return nil
}

func describe(path string) (BackupFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return BackupFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return BackupFile{}, err
	}
	return BackupFile{Name: filepath.Base(path), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Backups lists the complete backups in outDir, oldest first; a missing
// directory has none.
func Backups(outDir string) ([]BackupInfo, error) {
	ents, err := os.ReadDir(outDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: backups: %w", err)
	}
	var out []BackupInfo
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), backupPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		t, err := time.Parse(backupLayout, name)
		if err != nil {
			continue // not one of ours
		}
		out = append(out, BackupInfo{Path: filepath.Join(outDir, e.Name()), Started: t})
	}
	slices.SortFunc(out, func(a, b BackupInfo) int { return a.Started.Compare(b.Started) })
	return out, nil
}

// Prune deletes the complete backups in outDir beyond the newest keep,
// oldest first, and returns their paths. It also removes what backups that
// crashed left (.partial-* older than a day). keep < 1 keeps everything.
func Prune(outDir string, keep int) ([]string, error) {
	list, err := Backups(outDir)
	if err != nil || keep < 1 {
		return nil, err
	}
	var removed []string
	var errs []error
	for i := 0; i < len(list)-keep; i++ {
		if err := os.RemoveAll(list[i].Path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, list[i].Path)
	}
	ents, _ := os.ReadDir(outDir)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), partialPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > partialMaxAge {
			_ = os.RemoveAll(filepath.Join(outDir, e.Name()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("store: prune backups: %w", err)
	}
	return removed, nil
}

// VerifyBackup reads the backup in dir: its manifest, then each file's size
// and SHA-256, and SQLite's own check of each.
func VerifyBackup(ctx context.Context, dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return m, fmt.Errorf("store: %s is not a complete backup: %w", dir, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("store: backup manifest: %w", err)
	}
	if len(m.Files) == 0 {
		return m, fmt.Errorf("store: backup %s lists no database", dir)
	}
	for _, want := range m.Files {
		if want.Name != filepath.Base(want.Name) || !strings.HasSuffix(want.Name, sqliteExt) {
			return m, fmt.Errorf("store: backup manifest: bad file name %q", want.Name)
		}
		path := filepath.Join(dir, dbSubdir, want.Name)
		got, err := describe(path)
		if err != nil {
			return m, fmt.Errorf("store: backup: %w", err)
		}
		if got != want {
			return m, fmt.Errorf("store: backup file %s does not match its manifest (size %d, want %d)", want.Name, got.Size, want.Size)
		}
		if err := check(ctx, path); err != nil {
			return m, fmt.Errorf("store: backup: %w", err)
		}
	}
	return m, nil
}

// Restore puts the backup in from in place as the embedded database of the
// data directory dataDir (created if missing). The server must be stopped:
// Restore takes the data directory's lock, and fails with ErrDataDirInUse
// while a server holds it. The database it replaces is moved aside, to
// <data>/db.before-restore-<time>, whose path it returns ("" when there was
// none); nothing is deleted.
func Restore(ctx context.Context, dataDir, from string) (aside string, err error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	lock, err := lockDataDir(abs)
	if err != nil {
		return "", err
	}
	defer unlock(lock)
	m, err := VerifyBackup(ctx, from)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(abs, ".restore-")
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o700); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	for _, f := range m.Files {
		if err := copySynced(filepath.Join(from, dbSubdir, f.Name), filepath.Join(tmp, f.Name)); err != nil {
			return "", fmt.Errorf("store: restore: %w", err)
		}
	}
	if err := syncDir(tmp); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	live := filepath.Join(abs, dbSubdir)
	if _, serr := os.Lstat(live); serr == nil {
		aside = filepath.Join(abs, dbSubdir+".before-restore-"+time.Now().UTC().Format(backupLayout))
		if err := os.Rename(live, aside); err != nil {
			return "", fmt.Errorf("store: restore: move the database aside: %w", err)
		}
	}
	if err := os.Rename(tmp, live); err != nil {
		if aside != "" {
			if rerr := os.Rename(aside, live); rerr != nil {
				return "", fmt.Errorf("store: restore: %w (and the old database stays at %s: %v)", err, aside, rerr)
			}
		}
		return "", fmt.Errorf("store: restore: %w", err)
	}
	return aside, syncDir(abs)
}

func copySynced(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a directory's entries (new names, renames) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
