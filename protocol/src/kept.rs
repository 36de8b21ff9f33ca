//! What the server sent that waits for the caller (notices, notifications), kept in a queue
//! bounded in bytes: past the bound the oldest are dropped, and counted.

use std::collections::VecDeque;

/// A first-in first-out queue holding at most `max_bytes` (as the caller counts each
/// item's size). When a new item would go past the bound, the oldest are dropped until it
/// fits; an item larger than the bound on its own is dropped at once. Every dropped item is
/// counted ([`Kept::dropped`]), so that a caller can tell that some were lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    max_bytes: usize,
    dropped: u64,
}

impl<T> Kept<T> {
    /// An empty queue holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            items: VecDeque::new(),
            bytes: 0,
            max_bytes,
            dropped: 0,
        }
    }

    /// Appends `item`, which counts as `size` bytes, dropping the oldest items as needed.
    pub fn push(&mut self, item: T, size: usize) {
        if size > self.max_bytes {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        while self.bytes.saturating_add(size) > self.max_bytes {
            match self.items.pop_front() {
                Some((_, old)) => {
                    self.bytes = self.bytes.saturating_sub(old);
                    self.dropped = self.dropped.saturating_add(1);
                }
                None => break,
            }
        }
        self.bytes = self.bytes.saturating_add(size);
        self.items.push_back((item, size));
    }

    /// The oldest item, taken out.
    pub fn pop_front(&mut self) -> Option<T> {
        let (item, size) = self.items.pop_front()?;
        self.bytes = self.bytes.saturating_sub(size);
        Some(item)
    }

    /// Every item, oldest first, taken out (the count of dropped ones stays).
    pub fn take_all(&mut self) -> Vec<T> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
            .into_iter()
            .map(|(item, _)| item)
            .collect()
    }

    /// Forgets every item and the count of dropped ones.
    pub fn clear(&mut self) {
        self.items = VecDeque::new();
        self.bytes = 0;
        self.dropped = 0;
    }

    /// How many items are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item is kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bytes the kept items count as (never more than [`Kept::max_bytes`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bound.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// How many items were dropped to keep within the bound since the queue was made (or
    /// last cleared).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The kept items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().map(|(item, _)| item)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails loudly")]
mod tests {
    use super::Kept;

    #[test]
    fn oldest_dropped_and_counted_within_the_bound() {
        let mut q = Kept::new(10);
        for i in 0..5 {
            q.push(i, 3);
        }
        // 5 × 3 bytes into 10: the first two went.
        assert_eq!(q.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!((q.bytes(), q.dropped()), (9, 2));
        // Too large on its own: dropped at once, the others stay.
        q.push(99, 11);
        assert_eq!((q.len(), q.dropped()), (3, 3));
        // Exactly the bound: everything else goes.
        q.push(7, 10);
        assert_eq!((q.take_all(), q.bytes(), q.dropped()), (vec![7], 0, 6));
        q.push(1, 0);
        assert_eq!(q.pop_front(), Some(1));
        assert_eq!(q.pop_front(), None);
        q.clear();
        assert_eq!((q.len(), q.dropped()), (0, 0));
    }

    #[test]
    fn a_flood_stays_within_the_bound() {
        let mut q = Kept::new(1000);
        for i in 0..100_000u32 {
            q.push(i, 7);
            assert!(q.bytes() <= 1000);
        }
        assert_eq!(q.len(), 142);
        assert_eq!(q.dropped(), 100_000 - 142);
        assert_eq!(q.iter().next(), Some(&(100_000 - 142)));
    }
}
