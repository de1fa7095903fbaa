//! Stock export on Vendure: absolute on-hand levels of the variants with
//! some SKUs, per mapped stock location, and their read-back. One
//! `productVariants` look-up per batch (SKU `in`), then one
//! `updateProductVariants` (more only when the body limit cuts it) with
//! `stockLevels` for the variants whose level differs (at Vendure's
//! default location when the channel maps no location: see [`places`]).
//!
//! Only on-hand is written: Vendure keeps its orders' allocations
//! (`stockAllocated`) itself and sells on-hand less allocated.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cynic::{MutationBuilder, QueryBuilder};

use super::client::{Credential, Replay, VendureClient};
use super::export::{BODY_BUDGET, held_twice, sku_holders, split_by_size};
use super::mapping::{DEFAULT_LOCATION, id_order, stock_at, stock_input_of};
use super::wire::{
    IdOperators, SkuHolder, SortOrder, StockLocationFilterParameter, StockLocationListOptions,
    StockLocationSortParameter, StockLocationsQuery, StockLocationsVariables,
    UpdateProductVariantInput, UpdateVariants, UpdateVariantsVariables,
};
use crate::connector::{ChannelError, LocationMap, StockOutcome, StockReading, StockSet};

/// Vendure's stock `adminListQueryLimit`.
const MAX_TAKE: usize = 1000;

/// Where stock goes on this channel: catalog location -> stock location id
/// (with no `[channels.x.locations]`, `default` -> Vendure's default
/// location), and which of those ids Vendure has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    pub locations: LocationMap,
    pub present: BTreeSet<String>,
}

/// Reads [`Places`] for the channel's `locations`. Without a map the
/// default location is named by id, not written as `stockOnHand`: Vendure
/// writes a `stockOnHand` at its default location but reads it back as the
/// sum over every location, so a shop with two locations would show drift
/// forever.
pub async fn places(
    client: &VendureClient,
    credential: Credential<'_>,
    locations: &LocationMap,
) -> Result<Places, ChannelError> {
    let options = if locations.is_empty() {
        StockLocationListOptions {
            take: Some(1),
            sort: Some(StockLocationSortParameter {
                created_at: Some(SortOrder::Asc),
                id: Some(SortOrder::Asc),
            }),
            filter: None,
        }
    } else {
        let ids: BTreeSet<String> = locations.values().cloned().collect();
        StockLocationListOptions {
            take: Some(ids.len().min(MAX_TAKE) as i32),
            sort: None,
            filter: Some(StockLocationFilterParameter {
                id: Some(IdOperators {
                    in_: Some(ids.into_iter().collect()),
                }),
            }),
        }
    };
    let operation = StockLocationsQuery::build(StockLocationsVariables {
        options: Some(options),
    });
    let reply = client
        .run::<StockLocationsQuery, _>("stockLocations", credential, &operation, Replay::Safe)
        .await?;
    let present: BTreeSet<String> = reply
        .stock_locations
        .items
        .into_iter()
        .map(|l| l.id.inner().to_string())
        .collect();
    let locations = if locations.is_empty() {
        let default = present.first().ok_or_else(|| ChannelError::ShopSetup {
            message: "the Vendure channel has no stock location: create one under Settings → Stock locations".into(),
        })?;
        LocationMap::from([(DEFAULT_LOCATION.to_string(), default.clone())])
    } else {
        locations.clone()
    };
    Ok(Places { locations, present })
}

/// What a stock send decided before writing: each level's outcome where
/// the look-up settles it, and one variant update per variant whose
/// levels differ, with the indexes of the levels it carries.
#[derive(Debug, Default)]
pub struct StockPlan {
    /// `None`: the write decides.
    pub outcomes: Vec<Option<StockOutcome>>,
    pub writes: Vec<(UpdateProductVariantInput, Vec<usize>)>,
}

/// Plans `sets` against the variants Vendure holds (`holders`, by SKU) at
/// `places`. A level Vendure holds already needs no write.
pub fn plan_stock(
    sets: &[StockSet],
    places: &Places,
    holders: &HashMap<String, Vec<SkuHolder>>,
) -> StockPlan {
    let Places { locations, present } = places;
    let mut outcomes = Vec::with_capacity(sets.len());
    // Variant id -> (its holder, catalog location -> (quantity, level indexes)).
    type Wanted<'h> = (&'h SkuHolder, BTreeMap<String, (i64, Vec<usize>)>);
    let mut by_variant: BTreeMap<(u64, String), Wanted<'_>> = BTreeMap::new();
    for (i, set) in sets.iter().enumerate() {
        let mapped = locations
            .get(&set.location)
            .is_some_and(|id| present.contains(id));
        let decided = if !mapped {
            Err(StockOutcome::UnknownLocation)
        } else {
            match holders.get(&set.sku).map(Vec::as_slice) {
                None | Some([]) => Err(StockOutcome::UnknownSku),
                Some([one]) => match i32::try_from(set.available) {
                    Ok(q) if q >= 0 => Ok(one),
                    _ => Err(StockOutcome::Refused(format!(
                        "stock level {} is outside what Vendure keeps (0 to {})",
                        set.available,
                        i32::MAX
                    ))),
                },
                Some(many) => Err(StockOutcome::Refused(held_twice(&set.sku, many))),
            }
        };
        match decided {
            Ok(holder) => {
                let (_, wanted) = by_variant
                    .entry(id_order(holder.id.inner()))
                    .or_insert_with(|| (holder, BTreeMap::new()));
                // The same level twice in one send: the later value wins.
                let level = wanted
                    .entry(set.location.clone())
                    .or_insert((set.available, Vec::new()));
                level.0 = set.available;
                level.1.push(i);
                outcomes.push(None);
            }
            Err(outcome) => outcomes.push(Some(outcome)),
        }
    }
    let mut writes = Vec::new();
    for (holder, wanted) in by_variant.into_values() {
        let held = stock_at(holder.stock_on_hand, &holder.stock_levels, locations);
        let mut changed = BTreeMap::new();
        let mut served = Vec::new();
        for (location, (quantity, indexes)) in wanted {
            if held.get(&location) == Some(&quantity) {
                for i in indexes {
                    outcomes[i] = Some(StockOutcome::Set);
                }
            } else {
                changed.insert(location, quantity);
                served.extend(indexes);
            }
        }
        if changed.is_empty() {
            continue;
        }
        let (stock_on_hand, stock_levels) = stock_input_of(&changed, locations);
        writes.push((
            UpdateProductVariantInput {
                id: holder.id.clone(),
                translations: None,
                price: None,
                prices: None,
                stock_on_hand,
                stock_levels,
                option_ids: None,
            },
            served,
        ));
    }
    StockPlan { outcomes, writes }
}

/// Sets `sets` (absolute levels) on the variants with their SKUs. A call
/// Vendure refuses (an `errors` reply; it is all or nothing) is sent again
/// variant by variant, so the refusal is named for the levels it concerns.
pub async fn send_stock(
    client: &VendureClient,
    credential: Credential<'_>,
    places: &Places,
    sets: &[StockSet],
    max_bytes: Option<usize>,
) -> Result<Vec<StockOutcome>, ChannelError> {
    let holders = sku_holders(client, credential, &unique(sets.iter().map(|s| &s.sku))).await?;
    let StockPlan {
        mut outcomes,
        writes,
    } = plan_stock(sets, places, &holders);
    let overhead = UpdateVariants::build(UpdateVariantsVariables { input: vec![] })
        .query
        .len()
        + 64;
    let budget = max_bytes.map_or(BODY_BUDGET, |max| max.min(BODY_BUDGET));
    for chunk in split_by_size(writes, overhead, budget) {
        let inputs: Vec<UpdateProductVariantInput> =
            chunk.iter().map(|(input, _)| input.clone()).collect();
        let alone = inputs.len() == 1;
        match update(client, credential, inputs).await {
            Ok(()) => {
                for (_, served) in &chunk {
                    settle(&mut outcomes, served, StockOutcome::Set);
                }
            }
            Err(ChannelError::Refused { message, .. }) if alone => {
                settle(&mut outcomes, &chunk[0].1, StockOutcome::Refused(message));
            }
            Err(ChannelError::Refused { .. }) => {
                for (input, served) in &chunk {
                    let outcome = match update(client, credential, vec![input.clone()]).await {
                        Ok(()) => StockOutcome::Set,
                        Err(ChannelError::Refused { message, .. }) => {
                            StockOutcome::Refused(message)
                        }
                        Err(other) => return Err(other),
                    };
                    settle(&mut outcomes, served, outcome);
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.expect("every level planned or written"))
        .collect())
}

async fn update(
    client: &VendureClient,
    credential: Credential<'_>,
    input: Vec<UpdateProductVariantInput>,
) -> Result<(), ChannelError> {
    let operation = UpdateVariants::build(UpdateVariantsVariables { input });
    // Absolute on-hand levels: applying twice leaves the same levels.
    client
        .run::<UpdateVariants, _>(
            "updateProductVariants",
            credential,
            &operation,
            Replay::Safe,
        )
        .await?;
    Ok(())
}

/// Each SKU once, in first-seen order.
fn unique<'a>(skus: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    skus.into_iter()
        .filter(|s| seen.insert(s.as_str()))
        .cloned()
        .collect()
}

fn settle(outcomes: &mut [Option<StockOutcome>], served: &[usize], outcome: StockOutcome) {
    for &i in served {
        outcomes[i] = Some(outcome.clone());
    }
}

/// The on-hand levels of `skus` at the places' locations (by catalog name),
/// in the order of `skus` and of the names. A SKU without a (single)
/// variant, or a variant without a level at a location, has no reading there.
pub async fn read_stock(
    client: &VendureClient,
    credential: Credential<'_>,
    places: &Places,
    skus: &[String],
) -> Result<Vec<StockReading>, ChannelError> {
    let holders = sku_holders(client, credential, &unique(skus)).await?;
    Ok(readings(skus, &places.locations, &holders))
}

fn readings(
    skus: &[String],
    locations: &LocationMap,
    holders: &HashMap<String, Vec<SkuHolder>>,
) -> Vec<StockReading> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for sku in skus.iter().filter(|s| seen.insert(s.as_str())) {
        let Some([holder]) = holders.get(sku).map(Vec::as_slice) else {
            continue;
        };
        for (location, quantity) in stock_at(holder.stock_on_hand, &holder.stock_levels, locations)
        {
            out.push(StockReading {
                sku: sku.clone(),
                location,
                quantity,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::wire::{DateTime, Id, StockLevel};
    use super::*;

    fn holder(id: &str, sku: &str, on_hand: i32, levels: &[(&str, i32)]) -> SkuHolder {
        SkuHolder {
            id: Id::new(id),
            sku: sku.into(),
            product_id: Id::new(format!("p{id}")),
            created_at: DateTime("2026-12-01T10:00:00.000Z".into()),
            stock_on_hand: on_hand,
            stock_levels: levels
                .iter()
                .map(|(l, q)| StockLevel {
                    stock_location_id: Id::new(*l),
                    stock_on_hand: *q,
                })
                .collect(),
        }
    }

    fn set(sku: &str, location: &str, available: i64) -> StockSet {
        StockSet {
            sku: sku.into(),
            location: location.into(),
            available,
        }
    }

    fn holders() -> HashMap<String, Vec<SkuHolder>> {
        HashMap::from([
            ("A".to_string(), vec![holder("1", "A", 5, &[("1", 5)])]),
            (
                "TWICE".to_string(),
                vec![holder("2", "TWICE", 0, &[]), holder("3", "TWICE", 0, &[])],
            ),
        ])
    }

    fn mapped() -> Places {
        Places {
            locations: LocationMap::from([
                ("default".to_string(), "1".to_string()),
                ("berlin".to_string(), "2".to_string()),
                ("gone".to_string(), "9".to_string()),
            ]),
            present: BTreeSet::from(["1".to_string(), "2".to_string()]),
        }
    }

    #[test]
    fn levels_of_one_variant_go_in_one_update_and_the_rest_say_why_not() {
        let sets = [
            set("A", "default", 5),
            set("A", "berlin", 3),
            set("A", "berlin", 4),
            set("NOPE", "default", 1),
            set("A", "paris", 1),
            set("A", "gone", 1),
            set("TWICE", "default", 1),
            set("A", "default", -1),
            set("A", "default", i64::from(i32::MAX) + 1),
        ];
        let plan = plan_stock(&sets, &mapped(), &holders());
        assert_eq!(plan.outcomes[0], Some(StockOutcome::Set), "held already");
        assert_eq!(plan.outcomes[1], None);
        assert_eq!(plan.outcomes[2], None);
        assert_eq!(plan.outcomes[3], Some(StockOutcome::UnknownSku));
        assert_eq!(plan.outcomes[4], Some(StockOutcome::UnknownLocation));
        assert_eq!(plan.outcomes[5], Some(StockOutcome::UnknownLocation));
        assert!(
            matches!(&plan.outcomes[6], Some(StockOutcome::Refused(why)) if why.contains("2 (product p2) and 3 (product p3)")),
            "{:?}",
            plan.outcomes[6]
        );
        for i in [7, 8] {
            assert!(
                matches!(&plan.outcomes[i], Some(StockOutcome::Refused(why)) if why.contains("outside")),
                "{:?}",
                plan.outcomes[i]
            );
        }
        assert_eq!(plan.writes.len(), 1);
        let (input, served) = &plan.writes[0];
        assert_eq!(served, &[1, 2]);
        assert_eq!(input.id.inner(), "1");
        assert_eq!(input.stock_on_hand, None);
        let levels: Vec<(&str, i32)> = input
            .stock_levels
            .iter()
            .flatten()
            .map(|l| (l.stock_location_id.inner(), l.stock_on_hand))
            .collect();
        assert_eq!(
            levels,
            [("2", 4)],
            "only the level that differs, the later value"
        );
        assert_eq!(input.price, None);
        assert_eq!(input.prices, None);
        assert_eq!(input.translations, None);
    }

    #[test]
    fn readings_name_catalog_locations_and_skip_what_vendure_lacks() {
        let skus = ["A", "NOPE", "TWICE", "A"].map(String::from);
        assert_eq!(
            readings(&skus, &mapped().locations, &holders()),
            vec![StockReading {
                sku: "A".into(),
                location: "default".into(),
                quantity: 5,
            }]
        );
        assert_eq!(
            readings(&skus[..1], &LocationMap::new(), &holders()),
            vec![StockReading {
                sku: "A".into(),
                location: "default".into(),
                quantity: 5,
            }]
        );
    }
}
