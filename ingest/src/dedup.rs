//! The dedup index: which event identities the table (or the buffer) already holds.
//!
//! An event's identity is (`organization`, `id`, `timestamp`). The index keeps a 128-bit hash of
//! it per (organization, day) partition, loaded from the table's files on first touch, so a
//! retry is recognised across batches, commits and restarts. Partitions are evicted least
//! recently used first once the index holds more keys than its budget; partitions with events
//! not yet committed are never evicted, as the table cannot answer for those.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// An event identity: a 128-bit hash of organization, id and timestamp.
pub type EventKey = u128;

/// The identity of an event.
pub fn event_key(organization: &str, id: &str, timestamp_us: i64) -> EventKey {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(organization.as_bytes());
    hasher.update(&[0]);
    hasher.update(id.as_bytes());
    hasher.update(&[0]);
    hasher.update(&timestamp_us.to_le_bytes());
    hasher.digest128()
}

/// Keys are already uniform hashes: use their low bits as the table hash.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

type KeySet = HashSet<EventKey, BuildHasherDefault<KeyHasher>>;

/// A table partition: organization and UTC day (days since the epoch).
pub type PartitionId = (String, i32);

struct Partition {
    keys: KeySet,
    /// Keys inserted but not yet committed to the table.
    pending: usize,
    last_used: u64,
}

/// The set of known event identities, by partition, within a memory budget.
pub struct KeyIndex {
    /// Organization, then day: lookups by `&str` need no allocation on the hot path.
    partitions: HashMap<String, HashMap<i32, Partition>>,
    total: usize,
    budget: usize,
    clock: u64,
}

impl KeyIndex {
    /// An empty index that keeps at most about `budget` keys of committed partitions.
    pub fn new(budget: usize) -> Self {
        Self {
            partitions: HashMap::new(),
            total: 0,
            budget,
            clock: 0,
        }
    }

    /// Whether the keys of a partition are loaded.
    pub fn is_loaded(&self, organization: &str, day: i32) -> bool {
        self.partitions
            .get(organization)
            .is_some_and(|days| days.contains_key(&day))
    }

    /// Installs the keys the table holds for a partition.
    pub fn load(&mut self, organization: &str, day: i32, keys: impl IntoIterator<Item = EventKey>) {
        let keys: KeySet = keys.into_iter().collect();
        self.total += keys.len();
        self.clock += 1;
        let partition = Partition {
            keys,
            pending: 0,
            last_used: self.clock,
        };
        let days = self.partitions.entry(organization.to_owned()).or_default();
        if let Some(old) = days.insert(day, partition) {
            self.total -= old.keys.len();
        }
        self.evict();
    }

    /// Records a new event; `false` if its identity is already known (a duplicate).
    /// The partition must be loaded.
    pub fn insert(&mut self, organization: &str, day: i32, key: EventKey) -> bool {
        self.clock += 1;
        let Some(partition) = self
            .partitions
            .get_mut(organization)
            .and_then(|d| d.get_mut(&day))
        else {
            debug_assert!(false, "partition {organization}/{day} not loaded");
            return true;
        };
        partition.last_used = self.clock;
        if partition.keys.insert(key) {
            partition.pending += 1;
            self.total += 1;
            true
        } else {
            false
        }
    }

    /// Marks `count` pending keys of a partition as committed to the table.
    pub fn committed(&mut self, partition: &PartitionId, count: usize) {
        let (organization, day) = partition;
        if let Some(p) = self
            .partitions
            .get_mut(organization)
            .and_then(|d| d.get_mut(day))
        {
            p.pending = p.pending.saturating_sub(count);
        }
        self.evict();
    }

    /// Number of keys held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.total
    }

    fn evict(&mut self) {
        while self.total > self.budget {
            let victim = self
                .partitions
                .iter()
                .flat_map(|(org, days)| days.iter().map(move |(day, p)| (org, *day, p)))
                .filter(|(_, _, p)| p.pending == 0)
                .min_by_key(|(_, _, p)| p.last_used)
                .map(|(org, day, _)| (org.clone(), day));
            let Some((organization, day)) = victim else {
                return;
            };
            if let Some(days) = self.partitions.get_mut(&organization) {
                if let Some(p) = days.remove(&day) {
                    self.total -= p.keys.len();
                }
                if days.is_empty() {
                    self.partitions.remove(&organization);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_organization_id_and_timestamp() {
        let key = event_key("o", "id1", 5);
        assert_eq!(key, event_key("o", "id1", 5));
        assert_ne!(key, event_key("o", "id1", 6));
        assert_ne!(key, event_key("p", "id1", 5));
        assert_ne!(event_key("ab", "c", 1), event_key("a", "bc", 1));
    }

    #[test]
    fn detects_duplicates_against_loaded_and_inserted_keys() {
        let mut index = KeyIndex::new(100);
        index.load("o", 1, [event_key("o", "a", 1)]);
        assert!(!index.insert("o", 1, event_key("o", "a", 1)));
        assert!(index.insert("o", 1, event_key("o", "b", 1)));
        assert!(!index.insert("o", 1, event_key("o", "b", 1)));
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn evicts_committed_partitions_only() {
        let mut index = KeyIndex::new(3);
        index.load("o", 1, []);
        index.insert("o", 1, 1);
        index.insert("o", 1, 2);
        index.load("o", 2, []);
        index.insert("o", 2, 3);
        index.insert("o", 2, 4);
        // Over budget, but everything is pending: nothing may go.
        assert!(index.is_loaded("o", 1) && index.is_loaded("o", 2));
        index.committed(&("o".into(), 1), 2);
        assert!(!index.is_loaded("o", 1));
        assert!(index.is_loaded("o", 2));
    }
}
