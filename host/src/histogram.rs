//! Latency histograms for `/metrics`: a fixed set of bucket bounds and one
//! atomic counter per bucket, so recording a duration costs two atomic
//! adds and no lock. The scrape reads the buckets and sums them into the
//! cumulative form Prometheus expects (`api::metrics`).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The upper bounds of a histogram's buckets, in nanoseconds, ascending;
/// a last, unbounded bucket (`+Inf`) is implied.
pub trait Bounds {
    const NS: &'static [u64];
}

/// `N` bounds from `first` ns in the 1–2.5–5 steps of each decade (1 ms,
/// 2.5 ms, 5 ms, 10 ms, …); `first` must be such a step, or the constant
/// using it does not compile.
const fn decades<const N: usize>(first: u64) -> [u64; N] {
    /// 1, 2.5 and 5, in tenths.
    const TENTHS: [u64; 3] = [10, 25, 50];
    let (mut i, mut scale) = (0, 1);
    while TENTHS[i % 3] * scale / 10 != first {
        i += 1;
        if i % 3 == 0 {
            scale *= 10;
        }
    }
    let mut out = [0; N];
    let mut n = 0;
    while n < N {
        out[n] = TENTHS[i % 3] * scale / 10;
        i += 1;
        if i % 3 == 0 {
            scale *= 10;
        }
        n += 1;
    }
    out
}

/// A bot's call time: from tens of microseconds (a keyword match) to
/// seconds (a bot waiting on HTTP): 50 µs to 10 s.
#[derive(Debug)]
pub struct CallTime;

impl Bounds for CallTime {
    const NS: &'static [u64] = &decades::<17>(50_000);
}

/// A webhook post, from sending to its answer read: a loopback receiver
/// answers in a millisecond, a remote one in tens or hundreds; 1 ms to
/// 25 s.
#[derive(Debug)]
pub struct PostTime;

impl Bounds for PostTime {
    const NS: &'static [u64] = &decades::<14>(1_000_000);
}

/// Counts of durations by bucket, and their sum.
pub struct Histogram<B> {
    /// One counter per bucket (not cumulative), the `+Inf` one last.
    counts: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
    bounds: PhantomData<fn() -> B>,
}

impl<B: Bounds> Default for Histogram<B> {
    fn default() -> Self {
        Histogram {
            counts: (0..=B::NS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            bounds: PhantomData,
        }
    }
}

impl<B> fmt::Debug for Histogram<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("sum_ns", &self.sum_ns.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A histogram as read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The durations' sum, in seconds.
    pub sum: f64,
    /// How many durations were recorded (the buckets' total).
    pub count: u64,
    /// (upper bound in seconds, count in that bucket alone), the last
    /// bound infinite (`+Inf`).
    pub buckets: Vec<(f64, u64)>,
}

impl<B: Bounds> Histogram<B> {
    pub fn record(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // A bound is inclusive (`le`): the first bucket whose bound is ≥ ns.
        let at = B::NS.partition_point(|&bound| bound < ns);
        self.counts[at].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let buckets: Vec<(f64, u64)> = B::NS
            .iter()
            .map(|&ns| ns as f64 / 1e9)
            .chain([f64::INFINITY])
            .zip(self.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect();
        Snapshot {
            sum: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_step_through_each_decade() {
        const MS: u64 = 1_000_000;
        assert_eq!(decades::<4>(MS), [MS, 5 * MS / 2, 5 * MS, 10 * MS]);
        assert_eq!(CallTime::NS.first(), Some(&50_000));
        assert_eq!(CallTime::NS.last(), Some(&(10_000 * MS)));
        assert_eq!(PostTime::NS.first(), Some(&MS));
        assert_eq!(PostTime::NS.last(), Some(&(25_000 * MS)));
        assert!(CallTime::NS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn durations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::<CallTime>::default();
        h.record(Duration::from_micros(10));
        h.record(Duration::from_micros(50)); // on the bound: that bucket
        h.record(Duration::from_micros(51));
        h.record(Duration::from_secs(60)); // past every bound: +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets.len(), CallTime::NS.len() + 1);
        assert_eq!(s.buckets[0], (50e-6, 2));
        assert_eq!(s.buckets[1], (100e-6, 1));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((s.sum - 60.000111).abs() < 1e-9, "{}", s.sum);
    }

    #[test]
    fn bounds_ascend() {
        for ns in [CallTime::NS, PostTime::NS] {
            assert!(ns.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
