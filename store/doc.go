// Package store keeps searches and their trials in one bbolt file, the single
// source of truth of a search: the search loop writes it as it goes, resumes
// from it, and plots, exports and reports read it.
//
// # Layout
//
// The file is a bbolt database with two top-level buckets:
//
//	meta/
//	    format      "effnas/store"
//	    version     schema version, decimal ASCII ("1")
//	    created     creation time, RFC 3339, UTC
//	searches/
//	    <name>/                     one bucket per search, keyed by its name
//	        record                  JSON Search
//	        controller              the controller's state, opaque bytes (optional)
//	        trials/
//	            <id>                JSON Trial; key = ID as 8-byte big-endian uint64
//
// Big-endian keys make bbolt's byte order the order of trial IDs, so trials
// iterate by ID and the last key gives the next ID. Records are JSON with
// snake_case names; architectures and spaces use the versioned documents of
// package searchspace, measurements (a trial's metrics, the baseline, the
// host) the types of package measure. Non-finite measurements (a diverged
// run's NaN loss) and rewards are stored as the strings "NaN", "+Inf" and
// "-Inf". A search's reward settings and loop settings are kept as the
// search wrote them, JSON the store does not interpret (Search.Reward,
// Search.Config). Readers ignore unknown record fields.
//
// # Reading
//
// Besides the transactions, ReadSearch and ReadSearches open a store
// read-only for one query: a search (the named one, or the only one:
// Tx.PickSearch) or several, with their trials.
//
// # Schema version
//
// SchemaVersion changes when the layout or the meaning of a field changes in
// a way an older program would misread; adding an optional field does not
// change it. A program opens stores of its version or older (migrating older
// ones in place when there are any) and refuses newer ones with
// ErrNewerSchema, for reading and writing alike; every transaction checks the
// meta bucket again.
//
// # Refused files
//
// A file that is not a bbolt database (no bbolt magic number in its meta
// pages), or a bbolt database with buckets but no meta bucket, gives
// ErrNotStore. A bbolt database that cannot be read gives ErrDamaged: bad
// meta pages or checksums, a file shorter than its pages (truncated), or
// pages on which bbolt panics, which the store recovers from (with memory
// faults turned into panics during transactions) instead of crashing. Open
// checks an existing file read-only before it opens it for writing, so it
// never writes to a file it refuses. Open gives an empty file, or a bbolt
// database without any bucket, the schema; OpenReadOnly refuses both.
//
// # One open per transaction
//
// bbolt holds an exclusive flock on the file for as long as a process has it
// open for writing, and a read-only open waits for that lock: a reader would
// wait for a whole search. A Store therefore does not keep the file open.
// Each Update or View opens the file, takes the lock (exclusive to write,
// shared to read), runs one transaction and closes the file; opening and
// closing cost well under a millisecond, a commit's fsync a few, nothing next
// to a trial of seconds or minutes. A reader in another process (listing
// trials while a search runs) waits for at most one commit. Within a
// process, a Store's mutex runs its transactions one at a time (so a
// transaction must not start another on the same Store), and separate
// Stores on one file exclude each other through the lock like processes do.
//
// An open waits for another process's lock at most Options.Timeout (5 s by
// default) and then fails with ErrLocked instead of hanging. The lock is
// polled every millisecond, and a Store leaves at least 3 ms between two of
// its transactions, so a process waiting for the lock gets in even while
// another writes in a tight loop.
//
// Commits are synced to disk (bbolt's NoSync is off) and a new file's
// directory is synced too: a committed transaction survives SIGKILL and power
// loss, and an interrupted one leaves the previous state.
package store
