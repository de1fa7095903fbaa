//! Stock on Medusa: location levels (`stocked_quantity` of a variant's
//! inventory item at a stock location), written in one batch
//! (`/admin/inventory-items/location-levels/batch`): the levels an export
//! batch needs, and stock export's absolute levels ([`MedusaClient::send_stock`])
//! with their read-back ([`MedusaClient::read_stock`]).
//!
//! Only `stocked_quantity` is ever written: `reserved_quantity` is Medusa's
//! own (its orders' reservations), and Medusa subtracts it itself.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::{Value, json};

use super::export::{held_twice, item_error};
use super::import::StoreContext;
use super::wire::WireVariant;
use super::{ChannelError, Credential, MedusaClient, Replay};
use crate::catalog::Variant;
use crate::connector::{LocationMap, StockOutcome, StockReading, StockSet};

/// Why a variant's stock cannot be set.
const NOT_MANAGED: &str = "the variant does not manage inventory, so its stock cannot be set: turn on \"Manage inventory\" in Medusa";

/// The `fields=` of a stock look-up: each variant's inventory item and its
/// levels' stocked quantities (never the reserved ones: not ours).
const STOCK_FIELDS: &str = "id,sku,inventory_items.inventory_item_id,\
inventory_items.inventory.location_levels.location_id,\
inventory_items.inventory.location_levels.stocked_quantity";

/// One location level to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Level {
    inventory_item_id: String,
    location_id: String,
    stocked_quantity: i64,
    /// The item has a level at the location already (an update, else a create).
    exists: bool,
}

impl Level {
    fn json(&self) -> Value {
        json!({
            "inventory_item_id": self.inventory_item_id,
            "location_id": self.location_id,
            "stocked_quantity": self.stocked_quantity,
        })
    }
}

/// Stock levels to write, one batch for a whole export batch.
#[derive(Default)]
pub(super) struct Levels {
    levels: Vec<Level>,
}

impl Levels {
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }

    /// The levels `variant` needs at its mapped locations that `wire`
    /// lacks or holds otherwise. A catalog location the channel does not
    /// map is not the shop's business.
    pub(super) fn plan(
        &mut self,
        variant: &Variant,
        wire: &WireVariant,
        ctx: &StoreContext,
    ) -> Result<(), String> {
        let wanted: Vec<(&str, i64)> = variant
            .stock
            .iter()
            .filter_map(|(name, q)| Some((ctx.locations.get(name)?.as_str(), *q)))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let Some(item) = wire.inventory_item() else {
            return Err(NOT_MANAGED.into());
        };
        for (location, quantity) in wanted {
            self.levels
                .extend(write_for(item, location, quantity, wire));
        }
        Ok(())
    }

    /// One location-levels batch; `Ok(Err(why))` when Medusa refused it.
    pub(super) async fn write(
        self,
        client: &MedusaClient,
        credential: Credential<'_>,
    ) -> Result<Result<(), String>, ChannelError> {
        if self.is_empty() {
            return Ok(Ok(()));
        }
        client.write_levels(credential, &self.levels).await
    }
}

/// The write that makes inventory item `item` hold `quantity` at
/// `location`, unless `wire` (its variant as Medusa holds it) shows that
/// level already.
fn write_for(item: &str, location: &str, quantity: i64, wire: &WireVariant) -> Option<Level> {
    let have = wire.level_at(location);
    if have.is_some_and(|l| l.stocked_quantity.as_i64() == Some(quantity)) {
        return None;
    }
    Some(Level {
        inventory_item_id: item.to_string(),
        location_id: location.to_string(),
        stocked_quantity: quantity,
        exists: have.is_some(),
    })
}

/// The JSON of one location-levels batch.
fn batch_body(levels: &[Level]) -> String {
    let (update, create): (Vec<&Level>, Vec<&Level>) = levels.iter().partition(|l| l.exists);
    let json = |levels: Vec<&Level>| levels.into_iter().map(Level::json).collect::<Vec<_>>();
    json!({"create": json(create), "update": json(update)}).to_string()
}

/// Cuts `levels` into batches whose body stays under `max_bytes` (a level
/// too large alone goes alone; it is refused by Medusa, not here).
fn split_levels(levels: &[Level], max_bytes: Option<usize>) -> Vec<&[Level]> {
    let Some(max_bytes) = max_bytes else {
        return vec![levels];
    };
    // `{"create":[],"update":[]}` and a comma per level.
    const FRAME: usize = 26;
    let mut batches = Vec::new();
    let (mut start, mut size) = (0, FRAME);
    for (i, level) in levels.iter().enumerate() {
        let bytes = level.json().to_string().len() + 1;
        if i > start && size + bytes > max_bytes {
            batches.push(&levels[start..i]);
            (start, size) = (i, FRAME);
        }
        size += bytes;
    }
    if start < levels.len() {
        batches.push(&levels[start..]);
    }
    batches
}

/// What a stock send decided before writing: each level's outcome where
/// the look-up settles it, and the writes the others need, each with the
/// indexes of the levels it serves.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct StockPlan {
    /// `None`: the write decides.
    pub outcomes: Vec<Option<StockOutcome>>,
    pub writes: Vec<(Level, Vec<usize>)>,
}

/// Plans `sets` against what Medusa holds: `locations` maps catalog names
/// to location ids, `present` are the mapped ids Medusa has, `variants` the
/// live variants by SKU. A level Medusa holds already needs no write.
pub(super) fn plan_stock(
    sets: &[StockSet],
    locations: &LocationMap,
    present: &BTreeSet<String>,
    variants: &HashMap<String, Vec<WireVariant>>,
) -> StockPlan {
    let mut plan = StockPlan::default();
    // (item, location, its variant, quantity, level indexes), first seen first.
    let mut wanted: Vec<(&str, &str, &WireVariant, i64, Vec<usize>)> = Vec::new();
    let mut groups: HashMap<(String, String), usize> = HashMap::new();
    for (i, set) in sets.iter().enumerate() {
        let decided = (|| {
            let location = locations
                .get(&set.location)
                .filter(|id| present.contains(*id))
                .ok_or(StockOutcome::UnknownLocation)?;
            let wire = match variants.get(&set.sku).map(Vec::as_slice) {
                None | Some([]) => return Err(StockOutcome::UnknownSku),
                Some([one]) => one,
                Some(many) => return Err(StockOutcome::Refused(held_twice(&set.sku, many))),
            };
            let item = wire
                .inventory_item()
                .ok_or_else(|| StockOutcome::Refused(NOT_MANAGED.into()))?;
            if set.available < 0 {
                return Err(StockOutcome::Refused(format!(
                    "stock level {} is negative: Medusa keeps no negative stocked quantity",
                    set.available
                )));
            }
            Ok((item, location, wire))
        })();
        let (item, location, wire) = match decided {
            Ok(found) => found,
            Err(outcome) => {
                plan.outcomes.push(Some(outcome));
                continue;
            }
        };
        let key = (item.to_string(), location.clone());
        // The same level twice in one send: the later value wins.
        let group = *groups.entry(key).or_insert_with(|| {
            wanted.push((item, location.as_str(), wire, 0, Vec::new()));
            wanted.len() - 1
        });
        wanted[group].3 = set.available;
        wanted[group].4.push(i);
        plan.outcomes.push(None);
    }
    for (item, location, wire, quantity, indexes) in wanted {
        match write_for(item, location, quantity, wire) {
            Some(write) => plan.writes.push((write, indexes)),
            None => {
                for i in indexes {
                    plan.outcomes[i] = Some(StockOutcome::Set);
                }
            }
        }
    }
    plan
}

/// The levels Medusa holds for `skus` at the mapped locations, in the order
/// of `skus` and of `locations`' names. A SKU without a (single) variant, or
/// a variant without a level at a location, has no reading there.
pub(super) fn readings(
    skus: &[String],
    locations: &LocationMap,
    variants: &HashMap<String, Vec<WireVariant>>,
) -> Vec<StockReading> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for sku in skus.iter().filter(|s| seen.insert(s.as_str())) {
        let Some([wire]) = variants.get(sku).map(Vec::as_slice) else {
            continue;
        };
        for (name, id) in locations {
            if let Some(quantity) = wire.level_at(id).and_then(|l| l.stocked_quantity.as_i64()) {
                out.push(StockReading {
                    sku: sku.clone(),
                    location: name.clone(),
                    quantity,
                });
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct LocationIds {
    stock_locations: Vec<LocationId>,
}

#[derive(Deserialize)]
struct LocationId {
    id: String,
}

impl MedusaClient {
    /// Which of the location ids `locations` maps to Medusa has.
    pub(super) async fn present_locations(
        &self,
        credential: Credential<'_>,
        locations: &LocationMap,
    ) -> Result<BTreeSet<String>, ChannelError> {
        let ids: BTreeSet<&str> = locations.values().map(String::as_str).collect();
        let mut query: Vec<(&str, &str)> = ids.iter().map(|id| ("id[]", *id)).collect();
        let limit = ids.len().to_string();
        query.push(("limit", &limit));
        query.push(("fields", "id"));
        let found: LocationIds = self
            .get("admin/stock-locations", &query, credential)
            .await?;
        Ok(found.stock_locations.into_iter().map(|l| l.id).collect())
    }

    /// Sets `sets` (absolute levels) on the variants with their SKUs: one
    /// look-up, then one location-levels batch (more only when
    /// `max_bytes` cuts it) for the levels that differ. A batch Medusa
    /// refuses is sent again level by level, so the refusal is named for
    /// the level it concerns and the others are set.
    pub(super) async fn send_stock(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        present: &BTreeSet<String>,
        sets: &[StockSet],
        max_bytes: Option<usize>,
    ) -> Result<Vec<StockOutcome>, ChannelError> {
        let skus: Vec<&str> = sets.iter().map(|s| s.sku.as_str()).collect();
        let variants = self
            .variants_by_sku(credential, &skus, STOCK_FIELDS)
            .await?;
        let plan = plan_stock(sets, &ctx.locations, present, &variants);
        let mut outcomes = plan.outcomes;
        let levels: Vec<Level> = plan.writes.iter().map(|(l, _)| l.clone()).collect();
        let mut start = 0;
        for batch in split_levels(&levels, max_bytes) {
            let served = &plan.writes[start..start + batch.len()];
            start += batch.len();
            match self.write_levels(credential, batch).await? {
                Ok(()) => settle(&mut outcomes, served, StockOutcome::Set),
                Err(_) if batch.len() > 1 => {
                    for (level, levels_served) in served {
                        let outcome = match self
                            .write_levels(credential, std::slice::from_ref(level))
                            .await?
                        {
                            Ok(()) => StockOutcome::Set,
                            Err(why) => StockOutcome::Refused(why),
                        };
                        for &i in levels_served {
                            outcomes[i] = Some(outcome.clone());
                        }
                    }
                }
                Err(why) => settle(&mut outcomes, served, StockOutcome::Refused(why)),
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every level planned or written"))
            .collect())
    }

    /// The stocked quantities of `skus` at the mapped locations.
    pub(super) async fn read_stock(
        &self,
        credential: Credential<'_>,
        ctx: &StoreContext,
        skus: &[String],
    ) -> Result<Vec<StockReading>, ChannelError> {
        let wanted: Vec<&str> = skus.iter().map(String::as_str).collect();
        let variants = self
            .variants_by_sku(credential, &wanted, STOCK_FIELDS)
            .await?;
        Ok(readings(skus, &ctx.locations, &variants))
    }

    /// One location-levels batch; `Ok(Err(why))` when Medusa refused it.
    async fn write_levels(
        &self,
        credential: Credential<'_>,
        levels: &[Level],
    ) -> Result<Result<(), String>, ChannelError> {
        match self
            .post::<serde::de::IgnoredAny>(
                "admin/inventory-items/location-levels/batch",
                &[],
                credential,
                &batch_body(levels),
                // Absolute levels, one per item and location: applying
                // twice leaves the same level (a second create is refused,
                // never a second level).
                Replay::Safe,
            )
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(err) => item_error(err).map(Err),
        }
    }
}

fn settle(
    outcomes: &mut [Option<StockOutcome>],
    served: &[(Level, Vec<usize>)],
    outcome: StockOutcome,
) {
    for (_, levels) in served {
        for &i in levels {
            outcomes[i] = Some(outcome.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(id: &str, sku: &str, item: Option<&str>, levels: &[(&str, i64)]) -> WireVariant {
        let links = match item {
            Some(item) => json!([{"inventory_item_id": item, "inventory": {"location_levels":
                levels.iter().map(|(l, q)| json!({"location_id": l, "stocked_quantity": q})).collect::<Vec<_>>()}}]),
            None => json!([]),
        };
        serde_json::from_value(json!({"id": id, "sku": sku, "inventory_items": links}))
            .expect("a wire variant")
    }

    fn set(sku: &str, location: &str, available: i64) -> StockSet {
        StockSet {
            sku: sku.into(),
            location: location.into(),
            available,
        }
    }

    fn shop() -> (
        LocationMap,
        BTreeSet<String>,
        HashMap<String, Vec<WireVariant>>,
    ) {
        let locations = LocationMap::from([
            ("default".to_string(), "sloc_main".to_string()),
            ("berlin".to_string(), "sloc_berlin".to_string()),
            ("gone".to_string(), "sloc_deleted".to_string()),
        ]);
        let present = BTreeSet::from(["sloc_main".to_string(), "sloc_berlin".to_string()]);
        let variants = HashMap::from([
            (
                "A".to_string(),
                vec![variant("v_a", "A", Some("iitem_a"), &[("sloc_main", 5)])],
            ),
            (
                "TWICE".to_string(),
                vec![
                    variant("v_1", "TWICE", Some("iitem_1"), &[]),
                    variant("v_2", "TWICE", Some("iitem_2"), &[]),
                ],
            ),
            (
                "UNMANAGED".to_string(),
                vec![variant("v_u", "UNMANAGED", None, &[])],
            ),
        ]);
        (locations, present, variants)
    }

    #[test]
    fn each_level_is_set_written_or_refused_for_its_own_reason() {
        let (locations, present, variants) = shop();
        let sets = [
            set("A", "default", 5),
            set("A", "default", 7),
            set("A", "berlin", 3),
            set("NOPE", "default", 1),
            set("A", "paris", 1),
            set("A", "gone", 1),
            set("TWICE", "default", 1),
            set("UNMANAGED", "default", 1),
            set("A", "berlin", -1),
        ];
        let plan = plan_stock(&sets, &locations, &present, &variants);
        assert_eq!(
            plan.outcomes[0], None,
            "5 is then replaced by 7 in the send"
        );
        assert_eq!(plan.outcomes[1], None);
        assert_eq!(plan.outcomes[2], None);
        assert_eq!(plan.outcomes[3], Some(StockOutcome::UnknownSku));
        assert_eq!(
            plan.outcomes[4],
            Some(StockOutcome::UnknownLocation),
            "unmapped"
        );
        assert_eq!(
            plan.outcomes[5],
            Some(StockOutcome::UnknownLocation),
            "mapped to a location Medusa does not have"
        );
        assert!(
            matches!(&plan.outcomes[6], Some(StockOutcome::Refused(why)) if why.contains("v_1 and v_2")),
            "{:?}",
            plan.outcomes[6]
        );
        assert!(
            matches!(&plan.outcomes[7], Some(StockOutcome::Refused(why)) if why.contains("Manage inventory")),
            "{:?}",
            plan.outcomes[7]
        );
        assert!(
            matches!(&plan.outcomes[8], Some(StockOutcome::Refused(why)) if why.contains("negative")),
            "{:?}",
            plan.outcomes[8]
        );
        assert_eq!(
            plan.writes,
            vec![
                (
                    Level {
                        inventory_item_id: "iitem_a".into(),
                        location_id: "sloc_main".into(),
                        stocked_quantity: 7,
                        exists: true,
                    },
                    vec![0, 1]
                ),
                (
                    Level {
                        inventory_item_id: "iitem_a".into(),
                        location_id: "sloc_berlin".into(),
                        stocked_quantity: 3,
                        exists: false,
                    },
                    vec![2]
                ),
            ]
        );
        let body: Value = serde_json::from_str(&batch_body(
            &plan
                .writes
                .iter()
                .map(|(l, _)| l.clone())
                .collect::<Vec<_>>(),
        ))
        .unwrap();
        assert_eq!(body["update"][0]["stocked_quantity"], 7);
        assert_eq!(body["create"][0]["location_id"], "sloc_berlin");
        assert!(
            !body.to_string().contains("reserved"),
            "never Medusa's reservations"
        );
    }

    #[test]
    fn a_level_medusa_holds_already_is_not_written_again() {
        let (locations, present, variants) = shop();
        let plan = plan_stock(&[set("A", "default", 5)], &locations, &present, &variants);
        assert_eq!(plan.outcomes, vec![Some(StockOutcome::Set)]);
        assert!(plan.writes.is_empty());
    }

    #[test]
    fn readings_name_catalog_locations_and_skip_what_medusa_lacks() {
        let (locations, _, variants) = shop();
        let skus = ["A", "NOPE", "TWICE", "A"].map(String::from);
        assert_eq!(
            readings(&skus, &locations, &variants),
            vec![StockReading {
                sku: "A".into(),
                location: "default".into(),
                quantity: 5,
            }],
            "no level at berlin, no variant NOPE, TWICE ambiguous, A once"
        );
    }

    #[test]
    fn batches_are_cut_under_the_request_limit() {
        let levels: Vec<Level> = (0..10)
            .map(|i| Level {
                inventory_item_id: format!("iitem_{i:04}"),
                location_id: "sloc_main".into(),
                stocked_quantity: i,
                exists: i % 2 == 0,
            })
            .collect();
        assert_eq!(split_levels(&levels, None).len(), 1);
        let one = levels[0].json().to_string().len() + 1;
        let batches = split_levels(&levels, Some(26 + 3 * one));
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
        for batch in batches {
            assert!(
                batch_body(batch).len() <= 26 + 3 * one,
                "{}",
                batch_body(batch)
            );
        }
        assert_eq!(
            split_levels(&levels, Some(1)).len(),
            10,
            "one alone at worst"
        );
    }
}
