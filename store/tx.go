package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// MaxNameLen is the longest search name, in bytes.
const MaxNameLen = 255

// Tx is one transaction on a store, valid only inside the function given to
// Store.Update or Store.View. Records it returns are copies.
type Tx struct {
	s  *Store
	tx *bolt.Tx
	// broken is set when bbolt panicked on a damaged page: the transaction
	// is then rolled back whatever fn returns.
	broken error
	// created is set when the transaction gave an empty file the schema.
	created bool
	// done is set when the transaction's function has returned.
	done bool
}

// errTxDone reports the use of a Tx after its function returned.
var errTxDone = errors.New("transaction used after its function returned")

// recover turns a panic of bbolt into ErrDamaged, in *err and tx.broken.
func (tx *Tx) recover(err *error) {
	if r := recover(); r != nil {
		if r == errTxDone {
			*err = fmt.Errorf("store %s: %w", tx.s.path, errTxDone)
			return
		}
		tx.broken = tx.s.damaged(fmt.Errorf("%v", r))
		*err = tx.broken
	}
}

// CheckName reports whether name can name a search: 1 to MaxNameLen bytes of
// UTF-8 without control characters.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("store: empty search name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("store: search name of %d bytes, at most %d allowed", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("store: search name %q is not UTF-8", name)
	case bytes.ContainsFunc([]byte(name), unicode.IsControl):
		return fmt.Errorf("store: search name %q has control characters", name)
	}
	return nil
}

// searches returns the bucket of all searches. Every method goes through it
// (or through search), which makes a late use of tx fail cleanly.
func (tx *Tx) searches() *bolt.Bucket {
	if tx.done {
		panic(errTxDone) // turned into an error by tx.recover
	}
	return tx.tx.Bucket(bucketSearches)
}

// search returns the bucket of a search, or ErrNotFound.
func (tx *Tx) search(name string) (*bolt.Bucket, error) {
	b := tx.searches().Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("store %s: search %q: %w", tx.s.path, name, ErrNotFound)
	}
	return b, nil
}

func (tx *Tx) decode(what string, data []byte, v any) error {
	if data == nil {
		return tx.s.damaged(fmt.Errorf("%s: missing", what))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return tx.s.damaged(fmt.Errorf("%s: %w", what, err))
	}
	return nil
}

func (tx *Tx) readSearch(name string, b *bolt.Bucket) (Search, error) {
	var s Search
	err := tx.decode(fmt.Sprintf("search %q record", name), b.Get(keyRecord), &s)
	return s, err
}

// Searches returns every search, sorted by name.
func (tx *Tx) Searches() (out []Search, err error) {
	defer tx.recover(&err)
	c := tx.searches().Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue // not a bucket
		}
		s, err := tx.readSearch(string(k), tx.searches().Bucket(k))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Search returns the named search; ErrNotFound if there is none.
func (tx *Tx) Search(name string) (s Search, err error) {
	defer tx.recover(&err)
	b, err := tx.search(name)
	if err != nil {
		return Search{}, err
	}
	return tx.readSearch(name, b)
}

// PutSearch creates or replaces the record of s.Name; the search's trials
// and controller state are kept.
func (tx *Tx) PutSearch(s Search) (err error) {
	defer tx.recover(&err)
	if err := CheckName(s.Name); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("store: search %q: %w", s.Name, err)
	}
	b, err := tx.searches().CreateBucketIfNotExists([]byte(s.Name))
	if err != nil {
		return fmt.Errorf("store %s: search %q: %w", tx.s.path, s.Name, err)
	}
	if _, err := b.CreateBucketIfNotExists(bucketTrials); err != nil {
		return fmt.Errorf("store %s: search %q: %w", tx.s.path, s.Name, err)
	}
	return b.Put(keyRecord, data)
}

// DeleteSearch removes a search with its trials and controller state;
// ErrNotFound if there is none.
func (tx *Tx) DeleteSearch(name string) (err error) {
	defer tx.recover(&err)
	if _, err := tx.search(name); err != nil {
		return err
	}
	return tx.searches().DeleteBucket([]byte(name))
}

// trialKey is the key of trial id: 8 bytes big-endian, so that keys sort as
// the IDs do.
func trialKey(id int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }

// trials returns the trials bucket of a search (nil when it has none yet).
func (tx *Tx) trials(search string) (*bolt.Bucket, error) {
	b, err := tx.search(search)
	if err != nil {
		return nil, err
	}
	return b.Bucket(bucketTrials), nil
}

func (tx *Tx) decodeTrial(search string, k, v []byte) (Trial, error) {
	var t Trial
	if len(k) != 8 {
		return t, tx.s.damaged(fmt.Errorf("search %q: trial key %x is not 8 bytes", search, k))
	}
	id := binary.BigEndian.Uint64(k)
	if err := tx.decode(fmt.Sprintf("search %q trial %d", search, id), v, &t); err != nil {
		return t, err
	}
	if uint64(t.ID) != id {
		return t, tx.s.damaged(fmt.Errorf("search %q: trial under key %d has ID %d", search, id, t.ID))
	}
	return t, nil
}

// Trials returns the trials of a search, sorted by ID.
func (tx *Tx) Trials(search string) (out []Trial, err error) {
	defer tx.recover(&err)
	b, err := tx.trials(search)
	if err != nil || b == nil {
		return nil, err
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		t, err := tx.decodeTrial(search, k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Trial returns one trial; ErrNotFound if the search or the trial is missing.
func (tx *Tx) Trial(search string, id int) (t Trial, err error) {
	defer tx.recover(&err)
	b, err := tx.trials(search)
	if err != nil {
		return Trial{}, err
	}
	var v []byte
	if b != nil && id >= 1 {
		v = b.Get(trialKey(id))
	}
	if v == nil {
		return Trial{}, fmt.Errorf("store %s: search %q: trial %d: %w", tx.s.path, search, id, ErrNotFound)
	}
	return tx.decodeTrial(search, trialKey(id), v)
}

// PutTrial creates or replaces trial t.ID of a search. The search must exist
// (ErrNotFound otherwise) and t.ID be at least 1.
func (tx *Tx) PutTrial(search string, t Trial) (err error) {
	defer tx.recover(&err)
	if t.ID < 1 {
		return fmt.Errorf("store: search %q: trial ID %d, want at least 1", search, t.ID)
	}
	sb, err := tx.search(search)
	if err != nil {
		return err
	}
	data, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("store: search %q: trial %d: %w", search, t.ID, err)
	}
	b, err := sb.CreateBucketIfNotExists(bucketTrials)
	if err != nil {
		return fmt.Errorf("store %s: search %q: %w", tx.s.path, search, err)
	}
	return b.Put(trialKey(t.ID), data)
}

// NextTrialID returns 1 + the highest trial ID of a search (1 when it has no
// trial yet).
func (tx *Tx) NextTrialID(search string) (id int, err error) {
	defer tx.recover(&err)
	b, err := tx.trials(search)
	if err != nil {
		return 0, err
	}
	if b == nil {
		return 1, nil
	}
	k, _ := b.Cursor().Last()
	if k == nil {
		return 1, nil
	}
	if len(k) != 8 {
		return 0, tx.s.damaged(fmt.Errorf("search %q: trial key %x is not 8 bytes", search, k))
	}
	return int(binary.BigEndian.Uint64(k)) + 1, nil
}

// ControllerState returns the controller's saved state for a search, nil if
// none was saved.
func (tx *Tx) ControllerState(search string) (state []byte, err error) {
	defer tx.recover(&err)
	b, err := tx.search(search)
	if err != nil {
		return nil, err
	}
	if v := b.Get(keyController); len(v) > 0 {
		return bytes.Clone(v), nil // v lives in bbolt's map, valid only during the transaction
	}
	return nil, nil
}

// PutControllerState saves the controller's state for a search; an empty
// state removes it.
func (tx *Tx) PutControllerState(search string, state []byte) (err error) {
	defer tx.recover(&err)
	b, err := tx.search(search)
	if err != nil {
		return err
	}
	if len(state) == 0 {
		return b.Delete(keyController)
	}
	return b.Put(keyController, bytes.Clone(state)) // bbolt keeps the slice until the commit
}
