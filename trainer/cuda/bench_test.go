package cuda

import (
	"testing"

	"github.com/effnas/effnas/trainer/cuda/cudatest"
)

// BenchmarkDriverCall is the cost of one driver call through purego (a
// fake cuStreamSynchronize that only logs), on the device thread.
func BenchmarkDriverCall(b *testing.B) {
	d := benchDevice(b)
	err := d.Do(func(c *Ctx) error {
		for i := 0; i < b.N; i++ {
			if err := c.Sync(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDo is the cost of handing an empty closure to the device
// thread and back.
func BenchmarkDo(b *testing.B) {
	d := benchDevice(b)
	for i := 0; i < b.N; i++ {
		if err := d.Do(func(*Ctx) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDevice(b *testing.B) *Device {
	dir := cudatest.Dir(b, cudatest.Full)
	cudatest.Controls(b, dir).SetDevices(1, 9, 0)
	d, err := openWith(newLibSet(searchPaths{override: []string{dir}}), 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	b.ResetTimer()
	return d
}
