package store

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
)

// Command runs the operator's commands on the embedded database:
//
//	civico backup  [-data DIR] [-out DIR] [-keep N]
//	civico restore [-data DIR] -from BACKUP
//
// args[0] names the command. backup works while the server runs; restore
// refuses to (the data directory's lock). -data defaults to CIVICO_DATA,
// then ./data, as for the server; -out to CIVICO_BACKUP_DIR, then
// <data>/backups.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("backup or restore?")
	}
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	name := args[0]
	fs := flag.NewFlagSet("civico "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	data := fs.String("data", env("CIVICO_DATA", "./data"), "the server's data directory")
	switch name {
	case "backup":
		out := fs.String("out", getenv("CIVICO_BACKUP_DIR"), "where to write the backup (default <data>/backups)")
		keep := fs.Int("keep", 0, "then delete all but the newest N backups there (0: delete none)")
		if err := fs.Parse(args[1:]); err != nil {
			return helpIsNoError(err)
		}
		if getenv("MONGODB_URI") != "" {
			return errors.New("backup: MONGODB_URI is set; back up MongoDB with its own tools (README, Backups)")
		}
		if *out == "" {
			*out = filepath.Join(*data, "backups")
		}
		info, m, err := Backup(ctx, *data, *out)
		if err != nil {
			return err
		}
		var size int64
		for _, f := range m.Files {
			size += f.Size
		}
		fmt.Fprintf(stdout, "backup %s: %d database file(s), %d bytes, every write acknowledged before %s\n",
			info.Path, len(m.Files), size, m.Started.Format("2006-01-02 15:04:05.000 MST"))
		removed, err := Prune(*out, *keep)
		for _, p := range removed {
			fmt.Fprintf(stdout, "deleted old backup %s\n", p)
		}
		return err
	case "restore":
		from := fs.String("from", "", "the backup directory to restore (civico-<time>)")
		if err := fs.Parse(args[1:]); err != nil {
			return helpIsNoError(err)
		}
		if *from == "" {
			return errors.New("restore: -from names the backup to restore")
		}
		aside, err := Restore(ctx, *data, *from)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored %s into %s\n", *from, filepath.Join(*data, dbSubdir))
		if aside != "" {
			fmt.Fprintf(stdout, "the database it replaced is kept in %s\n", aside)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q: backup or restore", name)
}

func helpIsNoError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
