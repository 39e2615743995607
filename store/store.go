package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the layout described in the package
// documentation. A program refuses stores of a newer version.
const SchemaVersion = 1

// Format is the value of the "format" key of the meta bucket.
const Format = "effnas/store"

// DefaultTimeout is how long an open waits for another process's lock on
// the file.
const DefaultTimeout = 5 * time.Second

// Sentinel errors, for errors.Is. Errors from this package name the file and
// say what to do.
var (
	ErrNotFound    = errors.New("not found")
	ErrNotStore    = errors.New("not an effnas store")
	ErrNewerSchema = errors.New("store written by a newer effnas")
	ErrDamaged     = errors.New("damaged store")
	// ErrLocked: another process held the file for longer than the timeout.
	// It also matches bbolt's errors.ErrTimeout.
	ErrLocked = errors.New("store is locked")
)

// Options configures a Store. The zero value (or nil) selects the defaults.
type Options struct {
	// Timeout bounds the wait for another process's lock at each
	// transaction; 0 means DefaultTimeout, a negative value means no wait.
	Timeout time.Duration
}

// yieldGap is the least time between two transactions of one Store: it lets
// another process, which polls the lock every lockPoll, in between a loop of
// writes (see the package documentation).
const (
	yieldGap = 3 * time.Millisecond
	lockPoll = time.Millisecond
)

// Store is a handle on a store file. It does not keep the file open: each
// transaction opens it, runs and closes it. Its methods are safe for
// concurrent use; transactions of one Store run one at a time, so a
// transaction must not start another on the same Store.
type Store struct {
	path     string
	readOnly bool
	timeout  time.Duration

	mu      sync.Mutex
	lastEnd time.Time
	closed  bool
}

// Open opens the store at path for reading and writing, creating the file and
// its schema if it is missing or empty. An existing file is checked: one that
// is not a store gives ErrNotStore, a newer schema ErrNewerSchema and a
// damaged file ErrDamaged; such files are left as they are.
func Open(path string, opts *Options) (*Store, error) {
	s := newStore(path, false, opts)
	noop := func(*Tx) error { return nil }
	fi, err := os.Stat(path)
	created := errors.Is(err, os.ErrNotExist)
	if err == nil && (fi.Size() > 0 || fi.IsDir()) {
		// Check an existing file read-only first: a refused file is not
		// written, not even by bbolt's own housekeeping.
		if err := s.precheck(); err != nil {
			return nil, err
		}
		if err := s.run(false, false, noop); err != nil && !errors.Is(err, errEmptyDB) {
			return nil, err
		}
	}
	// Then open it for writing: this creates the file or the schema when
	// missing (committing only then) and checks that it can be written.
	if err := s.run(true, true, noop); err != nil {
		return nil, err
	}
	if created {
		syncDir(filepath.Dir(path))
	}
	return s, nil
}

// OpenReadOnly opens an existing store for reading: it never creates nor
// writes the file, and Update fails. A missing file gives an error wrapping
// os.ErrNotExist.
func OpenReadOnly(path string, opts *Options) (*Store, error) {
	s := newStore(path, true, opts)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store %s does not exist: %w", path, err)
		}
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if err := s.precheck(); err != nil {
		return nil, err
	}
	if err := s.View(func(*Tx) error { return nil }); err != nil {
		return nil, err
	}
	return s, nil
}

func newStore(path string, readOnly bool, opts *Options) *Store {
	s := &Store{path: path, readOnly: readOnly, timeout: DefaultTimeout}
	if opts != nil && opts.Timeout != 0 {
		s.timeout = max(opts.Timeout, 0)
	}
	return s
}

// Path returns the store's file name as given to Open.
func (s *Store) Path() string { return s.path }

// Close ends the use of s; later transactions fail. The file is not held
// open between transactions, so Close releases nothing else.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Update runs fn in one read-write transaction, committed (and synced to
// disk) when fn returns nil and rolled back when it returns an error or
// panics; a panic goes on after the rollback. The Tx is valid only within fn;
// the records it returns are copies and stay valid.
func (s *Store) Update(fn func(tx *Tx) error) error {
	if s.readOnly {
		return fmt.Errorf("store %s: opened read-only: %w", s.path, berrors.ErrDatabaseReadOnly)
	}
	return s.run(true, false, fn)
}

// View runs fn in one read-only transaction, which sees one consistent
// snapshot of the store.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.run(false, false, fn)
}

// run opens the file, runs fn in one transaction and closes the file. With
// initSchema, a file without any bucket gets the schema.
func (s *Store) run(write, initSchema bool, fn func(*Tx) error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("store %s: closed", s.path)
	}
	if wait := time.Until(s.lastEnd.Add(yieldGap)); wait > 0 {
		time.Sleep(wait)
	}
	defer func() { s.lastEnd = time.Now() }()

	// A damaged file can make bbolt read past the end of the mapped file;
	// turn that fault into a panic that the Tx methods report as ErrDamaged.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	db, file, err := s.openDB(write)
	if err != nil {
		return err
	}
	// stuck is set when bbolt panicked in a way that may leave its
	// transaction lock held, where DB.Close would wait forever: the file is
	// then unlocked and closed directly (bbolt's mapping leaks).
	stuck := false
	defer func() {
		if stuck {
			unlockFile(file)
			file.Close()
			return
		}
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("store %s: close: %w", s.path, cerr)
		}
	}()

	var btx *bolt.Tx
	if err := s.guard(func() (err error) { btx, err = db.Begin(write); return err }); err != nil {
		stuck = errors.Is(err, ErrDamaged)
		return err
	}
	rollback := func() {
		if err := s.guard(btx.Rollback); errors.Is(err, ErrDamaged) {
			stuck = true
		}
	}
	// bbolt trusts the file to hold every page up to the high-water mark
	// of its meta page; a truncated file would have it read past the end.
	if err := s.guard(func() error {
		if fi, err := file.Stat(); err == nil && btx.Size() > fi.Size() {
			return s.damaged(fmt.Errorf("truncated: the file has %d bytes, its pages need %d", fi.Size(), btx.Size()))
		}
		return nil
	}); err != nil {
		rollback()
		return err
	}
	tx := &Tx{s: s, tx: btx}
	done := false
	defer func() {
		if !done { // fn panicked: roll back, then the panic goes on
			tx.done = true
			rollback()
		}
	}()
	if err := s.guard(func() error { return tx.checkSchema(initSchema) }); err != nil {
		done = true
		rollback()
		return err
	}
	ferr := fn(tx)
	done, tx.done = true, true
	switch {
	case tx.broken != nil:
		rollback()
		return tx.broken
	case ferr != nil || !write || (initSchema && !tx.created):
		rollback()
		return ferr
	}
	err = s.guard(func() error {
		if err := btx.Commit(); err != nil {
			return fmt.Errorf("store %s: commit: %w", s.path, err)
		}
		return nil
	})
	if errors.Is(err, ErrDamaged) { // Commit panicked
		rollback()
	}
	return err
}

// guard runs f, turning a panic (bbolt's reaction to damaged pages) into
// ErrDamaged.
func (s *Store) guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.damaged(fmt.Errorf("%v", r))
		}
	}()
	return f()
}

func (s *Store) damaged(cause error) error {
	return fmt.Errorf("store %s: %w: %w; restore it from a backup or start a new store", s.path, ErrDamaged, cause)
}

func (s *Store) notStore(why error) error {
	return fmt.Errorf("store %s: %w (%w); give the file of a store or the name of a new one", s.path, ErrNotStore, why)
}

// errEmptyDB is the reason a bbolt database without any bucket is not a
// store (yet): Open gives it the schema.
var errEmptyDB = errors.New("an empty bbolt database")

// openDB opens the file with bbolt, waiting for other processes' locks at
// most the timeout. It also returns bbolt's *os.File, locked.
func (s *Store) openDB(write bool) (db *bolt.DB, file *os.File, err error) {
	openFile := func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		if err != nil {
			return nil, err
		}
		if err := lockFile(f, write, s.timeout); err != nil {
			f.Close()
			return nil, err
		}
		file = f
		return f, nil
	}
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				// bbolt's mapping of the file, lost with the panic, keeps
				// the file open: unlock it explicitly.
				unlockFile(file)
				file.Close()
			}
			db, file, err = nil, nil, s.damaged(fmt.Errorf("%v", r))
		}
	}()
	db, err = bolt.Open(s.path, 0o644, &bolt.Options{
		Timeout:  max(s.timeout, time.Nanosecond),
		ReadOnly: !write,
		OpenFile: openFile,
	})
	if err != nil {
		return nil, nil, s.openError(err)
	}
	return db, file, nil
}

// openError explains an error of bolt.Open.
func (s *Store) openError(err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store %s: %w by another process (or Store) for more than %v (%w); wait for it or raise the timeout",
			s.path, ErrLocked, s.timeout, err)
	case errors.Is(err, berrors.ErrInvalid):
		if !hasBoltMagic(s.path) {
			return s.notStore(errors.New("not a bbolt database"))
		}
		return s.damaged(err)
	case errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrInvalidMapping):
		return s.damaged(err)
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("store %s: %w", s.path, err)
	case hasBoltMagic(s.path): // e.g. "file size too small" of a truncated file
		return s.damaged(err)
	}
	return fmt.Errorf("store %s: open: %w", s.path, err)
}

// precheck classifies an existing file before bbolt maps it: an empty file
// read-only is not a store, a file without bbolt's magic number is not one
// either.
func (s *Store) precheck() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.path, err)
	}
	if fi.IsDir() {
		return s.notStore(errors.New("a directory"))
	}
	if fi.Size() == 0 {
		if s.readOnly {
			return s.notStore(errors.New("empty file"))
		}
		return nil // Open initialises it
	}
	if !hasBoltMagic(s.path) {
		return s.notStore(errors.New("not a bbolt database"))
	}
	return nil
}

// boltMagic marks bbolt's meta pages, at byte 16 of page 0 and page 1.
const boltMagic = 0xED0CDAED

// hasBoltMagic reports whether either meta page of the file, for any page
// size bbolt may have used, starts with bbolt's magic number.
func hasBoltMagic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var buf [4]byte
	for _, off := range []int64{0, 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10} {
		if _, err := f.ReadAt(buf[:], off+16); err != nil {
			if err == io.EOF {
				break
			}
			continue
		}
		if binary.LittleEndian.Uint32(buf[:]) == boltMagic || binary.BigEndian.Uint32(buf[:]) == boltMagic {
			return true
		}
	}
	return false
}

// syncDir makes a new file's directory entry durable, where the platform
// allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Bucket and key names of the layout.
var (
	bucketMeta     = []byte("meta")
	bucketSearches = []byte("searches")
	bucketTrials   = []byte("trials")
	keyFormat      = []byte("format")
	keyVersion     = []byte("version")
	keyCreated     = []byte("created")
	keyRecord      = []byte("record")
	keyController  = []byte("controller")
)

// checkSchema checks the meta bucket; with initSchema, a database without
// any bucket gets the schema.
func (tx *Tx) checkSchema(initSchema bool) error {
	s := tx.s
	meta := tx.tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.tx.Cursor().First(); k != nil {
			return s.notStore(errors.New("a bbolt database without effnas metadata"))
		}
		if !initSchema {
			return s.notStore(errEmptyDB)
		}
		tx.created = true
		return tx.createSchema()
	}
	if f := meta.Get(keyFormat); string(f) != Format {
		return s.notStore(fmt.Errorf("format %q, want %q", f, Format))
	}
	v, err := strconv.Atoi(string(meta.Get(keyVersion)))
	if err != nil || v < 1 {
		return s.damaged(fmt.Errorf("invalid schema version %q", meta.Get(keyVersion)))
	}
	if v > SchemaVersion {
		return fmt.Errorf("store %s: %w: schema version %d, this program reads versions 1 to %d; use a newer effnas",
			s.path, ErrNewerSchema, v, SchemaVersion)
	}
	if tx.tx.Bucket(bucketSearches) == nil {
		return s.damaged(errors.New("no searches bucket"))
	}
	return nil
}

func (tx *Tx) createSchema() error {
	meta, err := tx.tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	for k, v := range map[string]string{
		string(keyFormat):  Format,
		string(keyVersion): strconv.Itoa(SchemaVersion),
		string(keyCreated): time.Now().UTC().Format(time.RFC3339Nano),
	} {
		if err := meta.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	_, err = tx.tx.CreateBucket(bucketSearches)
	return err
}
