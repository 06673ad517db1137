//! A share of the engine's memory pool with a ceiling of its own, for one export: its sorts
//! spill to disk when they reach the ceiling, even while the shared pool has room, so that an
//! export's memory stays flat however large a day it sorts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::resources_datafusion_err;
use datafusion::error::Result;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// Reservations are made in `inner` as well, so the engine's pool still bounds everything
/// together; this pool refuses what would take a spillable consumer's reservations past `limit`,
/// except a reservation's first growth (one batch).
#[derive(Debug)]
pub(crate) struct CappedPool {
    inner: Arc<dyn MemoryPool>,
    limit: usize,
    reserved: AtomicUsize,
}

impl CappedPool {
    pub(crate) fn new(inner: Arc<dyn MemoryPool>, limit: usize) -> Self {
        Self {
            inner,
            limit,
            reserved: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Display for CappedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CappedPool({} of {} bytes, within {})",
            self.reserved.load(Ordering::Relaxed),
            self.limit,
            self.inner
        )
    }
}

impl MemoryPool for CappedPool {
    fn name(&self) -> &str {
        "CappedPool"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
        self.reserved.fetch_add(additional, Ordering::Relaxed);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
        self.reserved.fetch_sub(shrink, Ordering::Relaxed);
    }

    /// Consumers that cannot spill (a merge's cursors) may pass the limit, and so may a
    /// reservation that holds nothing yet: neither has anything to spill, and a sort must hold
    /// at least one batch to make progress.
    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let exempt = reservation.size() == 0 || !reservation.consumer().can_spill();
        self.reserved
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(additional)
                    .filter(|total| exempt || *total <= self.limit)
            })
            .map_err(|used| {
                resources_datafusion_err!(
                    "Failed to allocate additional {additional} bytes for {} with {} bytes \
                     already allocated: an export holds at most {} bytes (it has {used})",
                    reservation.consumer().name(),
                    reservation.size(),
                    self.limit
                )
            })?;
        if let Err(e) = self.inner.try_grow(reservation, additional) {
            self.reserved.fetch_sub(additional, Ordering::Relaxed);
            return Err(e);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer};

    use super::*;

    #[test]
    fn refuses_past_its_own_limit_and_shares_the_inner_pool() {
        let inner: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1000));
        let capped: Arc<dyn MemoryPool> = Arc::new(CappedPool::new(inner.clone(), 300));
        let sort = MemoryConsumer::new("sort")
            .with_can_spill(true)
            .register(&capped);
        sort.try_grow(200).unwrap();
        assert_eq!(inner.reserved(), 200);
        assert!(sort.try_grow(200).is_err(), "past the export's own limit");
        assert_eq!((capped.reserved(), inner.reserved()), (200, 200));
        // A reservation that holds nothing may pass the limit once: it has nothing to spill.
        let batch = MemoryConsumer::new("sort")
            .with_can_spill(true)
            .register(&capped);
        batch.try_grow(150).unwrap();
        assert!(batch.try_grow(1).is_err(), "then it spills like any other");
        assert_eq!((capped.reserved(), inner.reserved()), (350, 350));
        drop(batch);
        // A consumer that cannot spill is held to the shared pool only.
        let merge = MemoryConsumer::new("merge").register(&capped);
        merge.try_grow(100).unwrap();
        merge.try_grow(100).unwrap();
        assert_eq!((capped.reserved(), inner.reserved()), (400, 400));
        drop(merge);
        // The inner pool's limit holds too.
        let other = MemoryConsumer::new("other").register(&inner);
        other.try_grow(750).unwrap();
        assert!(sort.try_grow(100).is_err(), "past the shared pool's limit");
        assert_eq!((capped.reserved(), inner.reserved()), (200, 950));
        sort.shrink(150);
        sort.try_grow(50).unwrap();
        assert_eq!((capped.reserved(), inner.reserved()), (100, 850));
        drop(sort);
        assert_eq!((capped.reserved(), inner.reserved()), (0, 750));
    }
}
