package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// keyUpgrade, in the meta bucket while an upgrade runs, holds where it got
// to: a bucket name, a zero byte, and the last key rewritten in it. It is
// written in the same transaction as the rows it covers, so an upgrade cut
// off (a crash, a kill) resumes after the last batch that committed and
// never rewrites a row twice.
var keyUpgrade = []byte("upgrade")

// upgrade brings a file of an older format to formatVersion: format 1 or 2
// (values and log records without checksums) by rewriting opts.upgradeBatch
// rows per transaction, format 3 (log records holding full values) by
// noting the first version logged as undos, its records being read as they
// are, format 4 by writing the format number (long rows are segmented at
// their next write). A new file and a current one are left alone; init checks a newer one.
func (s *Driver) upgrade() error {
	var from uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			from = formatVersion // a new file
			return nil
		}
		from = getUint(meta, keyFormat)
		return s.checkVersions(meta)
	})
	if err != nil || from >= formatVersion {
		return err
	}
	if from >= deltaFormat { // format 4 has no segments to convert: see formatVersion
		err := s.db.Update(func(tx *bbolt.Tx) error { return putUint(tx.Bucket(metaBucket), keyFormat, formatVersion) })
		if err != nil {
			return fmt.Errorf("storage: %s: upgrading from format %d: %w", s.path, from, err)
		}
		return nil
	}
	if from >= sealedFormat {
		err := s.db.Update(func(tx *bbolt.Tx) error { return finishUpgrade(tx.Bucket(metaBucket)) })
		if err != nil {
			return fmt.Errorf("storage: %s: upgrading from format %d: %w", s.path, from, err)
		}
		return nil
	}
	lg := s.opts.Logger
	if lg != nil {
		lg.Info("upgrading the data file to add a checksum to every value; an upgrade cut off resumes at the next start",
			"file", s.path, "from_format", from, "to_format", formatVersion)
	}
	total := 0
	for {
		var done bool
		var n int
		err := s.db.Update(func(tx *bbolt.Tx) error {
			var err error
			n, done, err = s.upgradeBatch(tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: %s: upgrading from format %d: %w", s.path, from, err)
		}
		total += n
		if done {
			break
		}
		if lg != nil {
			lg.Info("upgrading the data file", "rows_rewritten", total)
		}
		if s.opts.afterUpgradeBatch != nil {
			if err := s.opts.afterUpgradeBatch(); err != nil {
				return err
			}
		}
	}
	if lg != nil {
		lg.Info("data file upgraded", "file", s.path, "rows_rewritten", total, "format", formatVersion)
	}
	return nil
}

// upgradeBatch rewrites up to opts.upgradeBatch rows and log records after
// the saved position, and finishes the upgrade when none are left.
func (s *Driver) upgradeBatch(tx *bbolt.Tx) (n int, done bool, err error) {
	meta := tx.Bucket(metaBucket)
	atBucket, after, _ := bytes.Cut(meta.Get(keyUpgrade), []byte{0})
	atBucket, after = bytes.Clone(atBucket), bytes.Clone(after)
	type kv struct{ k, v []byte }
	root := tx.Cursor()
	for name, _ := root.Seek(atBucket); name != nil; name, _ = root.Next() {
		isTable := bytes.HasPrefix(name, []byte(tablePrefix))
		if !isTable && !bytes.Equal(name, logBucket) {
			continue
		}
		name = bytes.Clone(name)
		b := tx.Bucket(name)
		if !bytes.Equal(name, atBucket) {
			after = nil
		}
		var batch []kv
		c := b.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && n+len(batch) < s.opts.upgradeBatch; k, v = c.Next() {
			if v == nil {
				continue // a nested bucket: the store makes none
			}
			batch = append(batch, kv{bytes.Clone(k), bytes.Clone(v)})
		}
		for _, e := range batch {
			var nv []byte
			if isTable {
				nv = sealValue(name, e.k, e.v)
			} else {
				nv = sealRecord(binary.BigEndian.Uint64(e.k), e.v)
			}
			if err := b.Put(e.k, nv); err != nil {
				return n, false, err
			}
		}
		n += len(batch)
		if len(batch) > 0 {
			atBucket, after = name, batch[len(batch)-1].k
		}
		if n >= s.opts.upgradeBatch {
			pos := append(append(bytes.Clone(atBucket), 0), after...)
			return n, false, meta.Put(keyUpgrade, pos)
		}
	}
	// Every bucket is done: the log tail, then the format, in this same
	// transaction.
	if tail := meta.Get(keyLogTail); tail != nil {
		recs, err := decodeTail(tail, true)
		if err != nil {
			return n, false, err
		}
		var buf []byte
		for _, r := range recs {
			data := sealRecord(r.version, r.data)
			buf = binary.AppendUvarint(buf, r.version)
			buf = binary.AppendUvarint(buf, uint64(len(data)))
			buf = append(buf, data...)
		}
		if err := meta.Put(keyLogTail, buf); err != nil {
			return n, false, err
		}
	}
	if err := finishUpgrade(meta); err != nil {
		return n, false, err
	}
	return n, true, meta.Delete(keyUpgrade)
}

// finishUpgrade marks the file as of formatVersion: the change log's
// records so far hold full values, the ones after it undos.
func finishUpgrade(meta *bbolt.Bucket) error {
	if err := putUint(meta, keyDeltaSince, getUint(meta, keyVersion)+1); err != nil {
		return err
	}
	return putUint(meta, keyFormat, formatVersion)
}

// sealRecord puts a checksum on a log record written by format 2.
func sealRecord(version uint64, data []byte) []byte {
	out := make([]byte, recordHeader+len(data))
	binary.LittleEndian.PutUint32(out, sumRecord(version, data))
	copy(out[recordHeader:], data)
	return out
}
