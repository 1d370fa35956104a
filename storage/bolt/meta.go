package bolt

import (
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// getUint reads a number the meta bucket holds under k (0 if none).
func getUint(b *bbolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// putUint writes a number into the meta bucket under k.
func putUint(b *bbolt.Bucket, k []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	if err := b.Put(k, buf[:]); err != nil {
		return fmt.Errorf("storage: write %s: %w", k, err)
	}
	return nil
}
