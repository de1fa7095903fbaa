//! What the sandbox holds: seeded products (by index, derived on demand by
//! [`crate::seed`]) plus the products created or changed since, in serving
//! order. A product is flat (keyed by its SKU, as earlier versions of the
//! protocol had them) or nested (keyed by its handle); each SKU is on one
//! product only: a product that names a SKU another holds takes it over.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use crate::Product;
use crate::product::NestedProduct;
use crate::seed::{
    NANOS_PER_SECOND, seed_handle, seed_nanos, seed_sku, seeded_nested, seeded_product, timestamp,
};

/// A stored product, flat or nested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    Flat(Product),
    Nested(NestedProduct),
}

impl Entry {
    /// The catalog key: `s/<sku>` or `h/<handle>` (two namespaces).
    pub(crate) fn key(&self) -> String {
        match self {
            Entry::Flat(p) => flat_key(&p.sku),
            Entry::Nested(p) => nested_key(&p.handle),
        }
    }

    pub(crate) fn skus(&self) -> Vec<String> {
        match self {
            Entry::Flat(p) => vec![p.sku.clone()],
            Entry::Nested(p) => p.variants.iter().map(|v| v.sku.clone()).collect(),
        }
    }

    /// The product holding `sku` as a flat product.
    pub(crate) fn flat_view(&self, sku: &str) -> Option<Product> {
        match self {
            Entry::Flat(p) => (p.sku == sku).then(|| p.clone()),
            Entry::Nested(p) => p.flat_view(sku),
        }
    }

    fn set_updated_at(&mut self, at: String) {
        match self {
            Entry::Flat(p) => p.updated_at = at,
            Entry::Nested(p) => p.updated_at = at,
        }
    }
}

pub(crate) fn flat_key(sku: &str) -> String {
    format!("s/{sku}")
}

pub(crate) fn nested_key(handle: &str) -> String {
    format!("h/{handle}")
}

/// A product created or changed after seeding.
pub(crate) struct Stored {
    pub(crate) entry: Entry,
    /// `updated_at` in nanoseconds since the Unix epoch: the ordering key.
    pub(crate) nanos: i128,
}

/// Seeded products (by index, derived on demand) plus stored overrides.
/// Serving order is (`updated_at`, key), so a product changed during a
/// pagination moves behind the cursor and a high-water mark never skips it.
pub(crate) struct Catalog {
    seeded: u64,
    /// Variants of each seeded product; 0: seeds are flat.
    seed_variants: u32,
    /// Bit `i` set: seeded product `i` is replaced or deleted.
    shadowed: Vec<u64>,
    stored: HashMap<String, Stored>,
    /// SKU -> key of the stored product holding it.
    owners: HashMap<String, String>,
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
    pub(crate) fn new(seeded: u64, seed_variants: u32) -> Catalog {
        Catalog {
            seeded,
            seed_variants,
            shadowed: vec![0; (seeded / 64 + 1) as usize],
            stored: HashMap::new(),
            owners: HashMap::new(),
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

    fn shadow(&mut self, i: u64) {
        self.shadowed[(i / 64) as usize] |= 1 << (i % 64);
    }

    /// Only the canonical spelling of an index names a seed (`0000001`, not `00000001`).
    fn seed_number(&self, digits: &str) -> Option<u64> {
        if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let i: u64 = digits.parse().ok()?;
        let canonical = digits.len() == 7 || !digits.starts_with('0');
        (canonical && (1..=self.seeded).contains(&i)).then_some(i)
    }

    /// The seeded index `sku` names, if it names one.
    pub(crate) fn seed_index(&self, sku: &str) -> Option<u64> {
        let rest = sku.strip_prefix("SKU-")?;
        match self.seed_variants {
            0 => self.seed_number(rest),
            n => {
                let (digits, v) = rest.split_once('-')?;
                let v: u32 = v.parse().ok()?;
                ((1..=n).contains(&v) && !v.to_string().starts_with('0'))
                    .then(|| self.seed_number(digits))
                    .flatten()
            }
        }
    }

    /// The seeded index a catalog key names.
    fn seed_of_key(&self, key: &str) -> Option<u64> {
        match (self.seed_variants, key.split_once('/')?) {
            (0, ("s", sku)) => self.seed_index(sku),
            (n, ("h", handle)) if n > 0 => self.seed_number(handle.strip_prefix("prod-")?),
            _ => None,
        }
    }

    fn seed_entry(&self, i: u64) -> Entry {
        match self.seed_variants {
            0 => Entry::Flat(seeded_product(i)),
            n => Entry::Nested(seeded_nested(i, n)),
        }
    }

    /// The product under `key`, stored or seeded.
    pub(crate) fn entry(&self, key: &str) -> Option<Entry> {
        if let Some(stored) = self.stored.get(key) {
            return Some(stored.entry.clone());
        }
        self.seed_of_key(key)
            .filter(|&i| !self.is_shadowed(i))
            .map(|i| self.seed_entry(i))
    }

    /// The key of the product holding `sku`.
    pub(crate) fn owner(&self, sku: &str) -> Option<String> {
        if let Some(key) = self.owners.get(sku) {
            return Some(key.clone());
        }
        self.seed_index(sku)
            .filter(|&i| !self.is_shadowed(i))
            .map(|i| self.seed_entry(i).key())
    }

    /// The product holding `sku` as a flat product.
    pub(crate) fn current(&self, sku: &str) -> Option<Product> {
        self.entry(&self.owner(sku)?)?.flat_view(sku)
    }

    fn now_nanos(&mut self) -> i128 {
        let now = jiff::Timestamp::now().as_nanosecond();
        self.last_nanos = now.max(self.last_nanos + 1);
        self.last_nanos
    }

    fn new_id(&mut self) -> String {
        let id = format!("p-{}", self.next_id);
        self.next_id += 1;
        id
    }

    /// Stores `entry` with `updated_at` = now, giving it (and its variants)
    /// ids where it has none; takes its SKUs from any other product. Returns
    /// what is stored.
    pub(crate) fn store(&mut self, mut entry: Entry) -> Entry {
        let key = entry.key();
        let old_id = match self.entry(&key) {
            Some(Entry::Flat(p)) => p.id,
            Some(Entry::Nested(p)) => p.id,
            None => None,
        };
        for sku in entry.skus() {
            match self.owner(&sku) {
                Some(owner) if owner != key => self.take_variant(&owner, &sku),
                _ => {}
            }
        }
        match &mut entry {
            Entry::Flat(p) => {
                if p.id.is_none() {
                    p.id = old_id.or_else(|| Some(self.new_id()));
                }
            }
            Entry::Nested(p) => {
                if p.id.is_none() {
                    p.id = old_id.or_else(|| Some(self.new_id()));
                }
                for variant in &mut p.variants {
                    if variant.id.is_none() {
                        variant.id = Some(format!("v-{}", self.next_id));
                        self.next_id += 1;
                    }
                }
            }
        }
        self.put(entry)
    }

    /// [`Catalog::store`] of a product with variants.
    pub(crate) fn store_nested(&mut self, product: NestedProduct) -> NestedProduct {
        match self.store(Entry::Nested(product)) {
            Entry::Nested(stored) => stored,
            Entry::Flat(_) => unreachable!("a product with variants is stored as one"),
        }
    }

    /// Writes `entry` as it is, with `updated_at` = now.
    fn put(&mut self, mut entry: Entry) -> Entry {
        let key = entry.key();
        let nanos = self.now_nanos();
        entry.set_updated_at(timestamp(nanos));
        self.remove_key(&key);
        if let Some(i) = self.seed_of_key(&key) {
            self.shadow(i);
        }
        for sku in entry.skus() {
            self.owners.insert(sku, key.clone());
        }
        self.order.insert((nanos, key.clone()));
        self.stored.insert(
            key,
            Stored {
                entry: entry.clone(),
                nanos,
            },
        );
        entry
    }

    /// Takes `sku` off the product under `owner`; a product left without
    /// variants goes.
    fn take_variant(&mut self, owner: &str, sku: &str) {
        match self.entry(owner) {
            Some(Entry::Nested(mut p)) if p.variants.len() > 1 => {
                p.variants.retain(|v| v.sku != sku);
                self.put(Entry::Nested(p));
            }
            Some(_) => self.delete_key(owner),
            None => {}
        }
    }

    fn remove_key(&mut self, key: &str) {
        if let Some(old) = self.stored.remove(key) {
            self.order.remove(&(old.nanos, key.to_string()));
            for sku in old.entry.skus() {
                if self.owners.get(&sku).map(String::as_str) == Some(key) {
                    self.owners.remove(&sku);
                }
            }
        }
    }

    /// Deletes the product under `key`; one that is not there is already deleted.
    pub(crate) fn delete_key(&mut self, key: &str) {
        if let Some(i) = self.seed_of_key(key) {
            self.shadow(i);
        }
        self.remove_key(key);
    }

    /// Deletes variants `skus` of product `handle`; the product goes with
    /// its last variant. A variant that is not there is already deleted.
    pub(crate) fn delete_variants(&mut self, handle: &str, skus: &[String]) {
        let key = nested_key(handle);
        if let Some(Entry::Nested(mut p)) = self.entry(&key) {
            p.variants.retain(|v| !skus.contains(&v.sku));
            if p.variants.is_empty() {
                self.delete_key(&key);
            } else {
                self.put(Entry::Nested(p));
            }
        }
    }

    pub(crate) fn materialise(&self, item: Item<'_>) -> Entry {
        match item {
            Item::Seeded(i) => self.seed_entry(i),
            Item::Stored(stored) => stored.entry.clone(),
        }
    }

    pub(crate) fn seed_variants(&self) -> u32 {
        self.seed_variants
    }

    pub(crate) fn key(&self, item: Item<'_>) -> (i128, String) {
        match item {
            Item::Seeded(i) => (seed_nanos(i), self.seed_key(i)),
            Item::Stored(stored) => (stored.nanos, stored.entry.key()),
        }
    }

    fn seed_key(&self, i: u64) -> String {
        match self.seed_variants {
            0 => flat_key(&seed_sku(i)),
            _ => nested_key(&seed_handle(i)),
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
        if let Some((nanos, key)) = after {
            seed = self.first_seed_from(*nanos);
            if seed <= self.seeded && seed_nanos(seed) == *nanos && self.seed_key(seed) <= *key {
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
            (Some(i), Some((nanos, key))) => {
                let seed_nanos = seed_nanos(i);
                seed_nanos < *nanos
                    || (seed_nanos == *nanos && catalog.seed_key(i).as_str() < key.as_str())
            }
        };
        if take_seed {
            self.seed += 1;
            Some(Item::Seeded(seed.expect("seed present")))
        } else {
            let (_, key) = self.stored.next().expect("stored present");
            Some(Item::Stored(&catalog.stored[key]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::NestedVariant;

    fn nested(handle: &str, skus: &[&str]) -> NestedProduct {
        NestedProduct {
            handle: handle.into(),
            title: "T".into(),
            description: String::new(),
            status: "active".into(),
            categories: Vec::new(),
            tags: Vec::new(),
            images: Vec::new(),
            options: Vec::new(),
            attributes: Default::default(),
            variants: skus
                .iter()
                .map(|s| NestedVariant {
                    sku: s.to_string(),
                    ..Default::default()
                })
                .collect(),
            updated_at: String::new(),
            id: None,
        }
    }

    #[test]
    fn a_sku_lives_on_one_product_and_a_product_needs_a_variant() {
        let mut c = Catalog::new(3, 0);
        // A nested product holding a seeded SKU replaces that seed.
        c.store(Entry::Nested(nested("mug", &["SKU-0000002", "MUG-2"])));
        assert_eq!(c.count(), 3);
        assert_eq!(c.owner("SKU-0000002").as_deref(), Some("h/mug"));
        // Another product taking one variant leaves the rest.
        c.store(Entry::Nested(nested("cup", &["MUG-2"])));
        let Some(Entry::Nested(mug)) = c.entry("h/mug") else {
            panic!("mug is there")
        };
        assert_eq!(mug.variants.len(), 1);
        // Taking the last variant takes the product.
        c.store(Entry::Nested(nested("bowl", &["SKU-0000002"])));
        assert!(c.entry("h/mug").is_none());
        c.delete_variants("bowl", &["SKU-0000002".into()]);
        assert!(c.entry("h/bowl").is_none());
        assert_eq!(c.count(), 3, "seeds 1 and 3, and cup");
        assert!(c.current("SKU-0000002").is_none());
        // Ids: the product's and each variant's.
        let Entry::Nested(cup) = c.entry("h/cup").unwrap() else {
            panic!("nested")
        };
        assert!(cup.id.as_deref().is_some_and(|id| id.starts_with("p-")));
        assert!(
            cup.variants[0]
                .id
                .as_deref()
                .is_some_and(|id| id.starts_with("v-"))
        );
    }

    #[test]
    fn nested_seeds_are_keyed_by_handle_and_their_variants_by_sku() {
        let c = Catalog::new(5, 3);
        assert_eq!(c.count(), 5);
        assert_eq!(c.seed_index("SKU-0000002-3"), Some(2));
        assert_eq!(c.seed_index("SKU-0000002-4"), None);
        assert_eq!(c.seed_index("SKU-0000002"), None);
        assert_eq!(c.owner("SKU-0000004-1").as_deref(), Some("h/prod-0000004"));
        let view = c.current("SKU-0000004-2").unwrap();
        assert_eq!(view.title, "Sandbox product 4");
        let keys: Vec<String> = c.items(None, None).map(|i| c.key(i).1).collect();
        assert_eq!(keys[0], "h/prod-0000001");
        assert_eq!(keys.len(), 5);
    }
}
