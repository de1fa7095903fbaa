//! What the sandbox holds: seeded products (by index, derived on demand by
//! [`crate::seed`]) plus the products created or changed since, in serving
//! order.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use crate::Product;
use crate::seed::{NANOS_PER_SECOND, seed_nanos, seed_sku, seeded_product, timestamp};

/// A product created or changed after seeding.
pub(crate) struct Stored {
    pub(crate) product: Product,
    /// `updated_at` in nanoseconds since the Unix epoch: the ordering key.
    pub(crate) nanos: i128,
}

/// Seeded products (by index, derived on demand) plus stored overrides.
/// Serving order is (`updated_at`, `sku`), so a product changed during a
/// pagination moves behind the cursor and a high-water mark never skips it.
pub(crate) struct Catalog {
    seeded: u64,
    /// Bit `i` set: seeded product `i` is replaced by an entry in `stored`.
    shadowed: Vec<u64>,
    stored: HashMap<String, Stored>,
    order: BTreeSet<(i128, String)>,
    next_id: u64,
    /// Last `updated_at` handed out; "now" never goes backwards.
    last_nanos: i128,
}

#[derive(Clone, Copy)]
pub(crate) enum Item<'a> {
    Seeded(u64),
    Stored(&'a Stored),
}

impl Catalog {
    pub(crate) fn new(seeded: u64) -> Catalog {
        Catalog {
            seeded,
            shadowed: vec![0; (seeded / 64 + 1) as usize],
            stored: HashMap::new(),
            order: BTreeSet::new(),
            next_id: seeded + 1,
            last_nanos: 0,
        }
    }

    pub(crate) fn count(&self) -> u64 {
        let shadowed: u64 = self
            .shadowed
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        self.seeded - shadowed + self.stored.len() as u64
    }

    fn is_shadowed(&self, i: u64) -> bool {
        self.shadowed[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// The seeded index `sku` names, if it names one.
    pub(crate) fn seed_index(&self, sku: &str) -> Option<u64> {
        let digits = sku.strip_prefix("SKU-")?;
        if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let i: u64 = digits.parse().ok()?;
        // Only the canonical spelling names a seeded product (`SKU-00000001` does not).
        let canonical = digits.len() == 7 || !digits.starts_with('0');
        (canonical && (1..=self.seeded).contains(&i)).then_some(i)
    }

    pub(crate) fn current(&self, sku: &str) -> Option<Product> {
        if let Some(stored) = self.stored.get(sku) {
            return Some(stored.product.clone());
        }
        // A shadowed seed that is not stored was deleted.
        self.seed_index(sku)
            .filter(|&i| !self.is_shadowed(i))
            .map(seeded_product)
    }

    fn now_nanos(&mut self) -> i128 {
        let now = jiff::Timestamp::now().as_nanosecond();
        self.last_nanos = now.max(self.last_nanos + 1);
        self.last_nanos
    }

    /// Stores `product` with `updated_at` = now; keeps an existing id.
    pub(crate) fn store(&mut self, mut product: Product) -> Product {
        let nanos = self.now_nanos();
        product.updated_at = timestamp(nanos);
        let existing_id = match self.stored.get(&product.sku) {
            Some(old) => old.product.id.clone(),
            None => self.seed_index(&product.sku).map(|i| format!("p-{i}")),
        };
        if product.id.is_none() {
            product.id = existing_id.or_else(|| {
                let id = format!("p-{}", self.next_id);
                self.next_id += 1;
                Some(id)
            });
        }
        if let Some(i) = self.seed_index(&product.sku) {
            self.shadowed[(i / 64) as usize] |= 1 << (i % 64);
        }
        if let Some(old) = self.stored.remove(&product.sku) {
            self.order.remove(&(old.nanos, product.sku.clone()));
        }
        self.order.insert((nanos, product.sku.clone()));
        self.stored.insert(
            product.sku.clone(),
            Stored {
                product: product.clone(),
                nanos,
            },
        );
        product
    }

    /// Deletes `sku`; a product that is not there is already deleted.
    pub(crate) fn delete(&mut self, sku: &str) {
        if let Some(i) = self.seed_index(sku) {
            self.shadowed[(i / 64) as usize] |= 1 << (i % 64);
        }
        if let Some(old) = self.stored.remove(sku) {
            self.order.remove(&(old.nanos, sku.to_string()));
        }
    }

    /// Export upsert: stores only when the content differs. The item's own
    /// `updated_at` and `id` are the client's, never the channel's.
    pub(crate) fn upsert(&mut self, item: Product) -> &'static str {
        let existing = self.current(&item.sku);
        let candidate = Product {
            updated_at: String::new(),
            id: None,
            ..item
        };
        match existing {
            Some(old)
                if old.title == candidate.title
                    && old.price == candidate.price
                    && old.currency == candidate.currency
                    && old.quantity == candidate.quantity
                    && old.attributes == candidate.attributes =>
            {
                "unchanged"
            }
            Some(_) => {
                self.store(candidate);
                "updated"
            }
            None => {
                self.store(candidate);
                "created"
            }
        }
    }

    pub(crate) fn materialise(&self, item: Item<'_>) -> Product {
        match item {
            Item::Seeded(i) => seeded_product(i),
            Item::Stored(stored) => stored.product.clone(),
        }
    }

    pub(crate) fn key(&self, item: Item<'_>) -> (i128, String) {
        match item {
            Item::Seeded(i) => (seed_nanos(i), seed_sku(i)),
            Item::Stored(stored) => (stored.nanos, stored.product.sku.clone()),
        }
    }

    /// First seeded index whose `updated_at` is at or after `nanos`.
    fn first_seed_from(&self, nanos: i128) -> u64 {
        let offset = nanos - seed_nanos(0);
        let i = if offset <= NANOS_PER_SECOND {
            1
        } else {
            let whole = (offset + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND;
            u64::try_from(whole).unwrap_or(u64::MAX)
        };
        i.min(self.seeded + 1)
    }

    /// Items strictly after `after` (a cursor key) with `updated_at >= since`,
    /// in serving order. Costs O(log n) to start, O(1) per item (plus shadowed
    /// seeds skipped), never a scan of the catalog.
    pub(crate) fn items(&self, after: Option<&(i128, String)>, since: Option<i128>) -> Items<'_> {
        let mut seed = 1;
        if let Some((nanos, sku)) = after {
            seed = self.first_seed_from(*nanos);
            if seed <= self.seeded && seed_nanos(seed) == *nanos && seed_sku(seed) <= *sku {
                seed += 1;
            }
        }
        if let Some(since) = since {
            seed = seed.max(self.first_seed_from(since));
        }
        let lower = match (after, since) {
            (Some(after), Some(since)) if since <= after.0 => Bound::Excluded(after.clone()),
            (Some(after), None) => Bound::Excluded(after.clone()),
            (_, Some(since)) => Bound::Included((since, String::new())),
            (None, None) => Bound::Unbounded,
        };
        Items {
            catalog: self,
            seed,
            stored: self.order.range((lower, Bound::Unbounded)).peekable(),
        }
    }
}

pub(crate) struct Items<'a> {
    catalog: &'a Catalog,
    seed: u64,
    stored: std::iter::Peekable<std::collections::btree_set::Range<'a, (i128, String)>>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let catalog = self.catalog;
        while self.seed <= catalog.seeded && catalog.is_shadowed(self.seed) {
            self.seed += 1;
        }
        let seed = (self.seed <= catalog.seeded).then_some(self.seed);
        let take_seed = match (seed, self.stored.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(i), Some((nanos, sku))) => {
                let seed_nanos = seed_nanos(i);
                seed_nanos < *nanos || (seed_nanos == *nanos && seed_sku(i) < *sku)
            }
        };
        if take_seed {
            self.seed += 1;
            Some(Item::Seeded(seed.expect("seed present")))
        } else {
            let (_, sku) = self.stored.next().expect("stored present");
            Some(Item::Stored(&catalog.stored[sku]))
        }
    }
}
