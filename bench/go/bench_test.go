// Go's side of the leash benchmarks: the same operations, in the shapes of Go's own
// runtime/chan_test.go and context/benchmark_test.go, so bench/*.bench.ts can print Go's figure
// measured on this machine, in the same run, beside leash's. Run by the node benches when `go` is
// on PATH; by hand: go test -bench . -benchtime 200000x
//
// Besides ns/op (wall clock), each benchmark reports cpu-ns/op: the process's CPU time (getrusage)
// per operation, the figure the node benches compare with on a machine shared with other jobs,
// where the wall clock also counts time the OS gave to others.
package leashbench

import (
	"context"
	"syscall"
	"testing"
	"time"
)

var sink int

func cpuNow() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpu reports the CPU time per operation since `start` as the metric cpu-ns/op.
func cpu(b *testing.B, start int64) {
	b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
}

// A producer goroutine sends b.N values; the benchmark goroutine receives them (leash's pingPong).
func prodCons(b *testing.B, capacity int) {
	start := cpuNow()
	ch := make(chan int, capacity)
	go func() {
		for i := 0; i < b.N; i++ {
			ch <- i
		}
	}()
	s := 0
	for i := 0; i < b.N; i++ {
		s += <-ch
	}
	sink = s
	cpu(b, start)
}

func BenchmarkChanUnbuffered(b *testing.B) { prodCons(b, 0) }

func BenchmarkChanBuffered128(b *testing.B) { prodCons(b, 128) }

// select with a context: the receiving side waits on the data channel, a quit channel and
// ctx.Done(), the shape of leash's select(ctx, [{ recv: ch }, { recv: quit }]) on a live context.
func BenchmarkSelectCtx(b *testing.B) {
	start := cpuNow()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan int)
	quit := make(chan struct{})
	go func() {
		for i := 0; i < b.N; i++ {
			ch <- i
		}
	}()
	s := 0
	for i := 0; i < b.N; i++ {
		select {
		case v := <-ch:
			s += v
		case <-quit:
		case <-ctx.Done():
		}
	}
	sink = s
	cpu(b, start)
}

// go + join: start a goroutine that returns a value and wait for it (leash's await go(ctx, fn).done).
func BenchmarkGoJoin(b *testing.B) {
	start := cpuNow()
	s := 0
	for i := 0; i < b.N; i++ {
		res := make(chan int, 1)
		go func() { res <- 1 }()
		s += <-res
	}
	sink = s
	cpu(b, start)
}

// Derive a child of a long-lived cancellable parent and cancel it.
func BenchmarkWithCancel(b *testing.B) {
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	start := cpuNow()
	for i := 0; i < b.N; i++ {
		_, cancel := context.WithCancel(parent)
		cancel()
	}
	cpu(b, start)
}

// WithTimeout of a long-lived cancellable parent, cancelled before it fires (the timer is stopped).
func BenchmarkWithTimeout(b *testing.B) {
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	start := cpuNow()
	for i := 0; i < b.N; i++ {
		_, cancel := context.WithTimeout(parent, time.Hour)
		cancel()
	}
	cpu(b, start)
}

type key int

// Value of the key set at the root of a chain of 10 WithValue contexts: a walk of depth 10.
func BenchmarkValueDepth10(b *testing.B) {
	ctx := context.WithValue(context.Background(), key(0), 0)
	for i := 1; i < 10; i++ {
		ctx = context.WithValue(ctx, key(i), i)
	}
	b.ResetTimer()
	start := cpuNow()
	s := 0
	for i := 0; i < b.N; i++ {
		s += ctx.Value(key(0)).(int)
	}
	sink = s
	cpu(b, start)
}
