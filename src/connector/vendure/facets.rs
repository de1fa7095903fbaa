//! Categories and tags as facet values: a batch's names are found (or
//! created when missing) in the two facets the channel names
//! ([`FacetCodes`]) before its products are written, so products written
//! at once never race to create the same value. A value is matched by its
//! name (the category path or the tag); of two values of one name, the
//! older is used.

use std::collections::{BTreeSet, HashMap};

use cynic::{MutationBuilder, QueryBuilder};

use super::client::Replay;
use super::export::{Shop, split};
use super::mapping::{FacetCodes, id_order, slug};
use super::wire::{
    Channel, CreateFacet, CreateFacetInput, CreateFacetValueInput, CreateFacetValues,
    CreateFacetValuesVariables, CreateFacetVariables, Facet, FacetFilterParameter,
    FacetListOptions, FacetListVariables, FacetTranslationInput, FacetValueTranslationInput,
    FacetsQuery, Id, StringOperators, WholeProduct,
};
use crate::catalog::Product;
use crate::connector::ChannelError;

/// The facet values of one facet, by name.
#[derive(Debug, Default)]
struct Values {
    by_name: HashMap<String, Id>,
    /// Why the facet or some of its values could not be made.
    failed: Option<String>,
}

/// The category and tag facet values a batch links its products to.
#[derive(Debug, Default)]
pub struct Links {
    categories: Values,
    tags: Values,
}

impl Links {
    /// The facet value ids of `product`'s categories and tags, or why some
    /// could not be made.
    pub fn ids_of(&self, product: &Product) -> Result<Vec<Id>, String> {
        let mut ids = self.ids(&self.categories, &product.categories, "category")?;
        ids.extend(self.ids(&self.tags, &product.tags, "tag")?);
        Ok(ids)
    }

    fn ids(&self, values: &Values, names: &[String], what: &str) -> Result<Vec<Id>, String> {
        names
            .iter()
            .map(|name| {
                values.by_name.get(name).cloned().ok_or_else(|| {
                    format!(
                        "{what} `{}` is not on Vendure and could not be made: {}",
                        crate::output::escape(name),
                        values.failed.as_deref().unwrap_or("no reason given")
                    )
                })
            })
            .collect()
    }

    /// The facet value ids `product` should have on Vendure: those of
    /// other facets as they are, and the categories and/or tags of
    /// `desired` in place of the current ones where `categories` / `tags`
    /// are written.
    pub fn replacing(
        &self,
        current: &WholeProduct,
        desired: &Product,
        facets: &FacetCodes,
        categories: bool,
        tags: bool,
    ) -> Result<Vec<Id>, String> {
        let mut ids: Vec<Id> = current
            .facet_values
            .iter()
            .filter(|v| {
                !(categories && v.facet.code == facets.category
                    || tags && v.facet.code == facets.tag)
            })
            .map(|v| v.id.clone())
            .collect();
        if categories {
            ids.extend(self.ids(&self.categories, &desired.categories, "category")?);
        }
        if tags {
            ids.extend(self.ids(&self.tags, &desired.tags, "tag")?);
        }
        Ok(ids)
    }
}

/// Finds the facet values of `products`' categories and tags, creating the
/// facets and values that are missing. A facet or value Vendure refuses is
/// not an error of the batch: [`Links::ids_of`] names it for each product
/// that needs it.
pub async fn links(
    shop: &Shop<'_>,
    channel: &Channel,
    products: &[&Product],
) -> Result<Links, ChannelError> {
    let categories: BTreeSet<&str> = products
        .iter()
        .flat_map(|p| p.categories.iter().map(String::as_str))
        .collect();
    let tags: BTreeSet<&str> = products
        .iter()
        .flat_map(|p| p.tags.iter().map(String::as_str))
        .collect();
    if categories.is_empty() && tags.is_empty() {
        return Ok(Links::default());
    }
    let facets = shop.facets;
    let mut found = facets_of(shop, &[&facets.category, &facets.tag]).await?;
    let mut links = Links::default();
    for (code, names, values) in [
        (&facets.category, categories, &mut links.categories),
        (&facets.tag, tags, &mut links.tags),
    ] {
        if names.is_empty() {
            continue;
        }
        match ensure(shop, channel, found.remove(code.as_str()), code, &names).await {
            Ok(made) => *values = made,
            Err(ChannelError::Refused { message, .. }) => values.failed = Some(message),
            Err(other) => return Err(other),
        }
    }
    Ok(links)
}

/// The facets of `codes` that exist, by code.
async fn facets_of(
    shop: &Shop<'_>,
    codes: &[&str],
) -> Result<HashMap<String, Facet>, ChannelError> {
    let operation = FacetsQuery::build(FacetListVariables {
        options: Some(FacetListOptions {
            skip: None,
            take: Some(codes.len() as i32),
            filter: Some(FacetFilterParameter {
                code: Some(StringOperators {
                    in_: Some(codes.iter().map(|c| c.to_string()).collect()),
                }),
            }),
        }),
    });
    let reply = shop
        .client
        .run::<FacetsQuery, _>("facets", shop.credential, &operation, Replay::Safe)
        .await?;
    Ok(reply
        .facets
        .items
        .into_iter()
        .map(|f| (f.code.clone(), f))
        .collect())
}

/// The values of `names` in the facet `code` (`facet` when it exists),
/// creating the facet and the missing values.
async fn ensure(
    shop: &Shop<'_>,
    channel: &Channel,
    facet: Option<Facet>,
    code: &str,
    names: &BTreeSet<&str>,
) -> Result<Values, ChannelError> {
    let language = channel.default_language_code.clone();
    let facet = match facet {
        Some(f) => f,
        None => {
            let operation = CreateFacet::build(CreateFacetVariables {
                input: CreateFacetInput {
                    code: code.to_string(),
                    is_private: false,
                    translations: vec![FacetTranslationInput {
                        language_code: language.clone(),
                        name: Some(code.to_string()),
                    }],
                },
            });
            // A facet made twice fails on its unique code: not resent.
            shop.client
                .run::<CreateFacet, _>("createFacet", shop.credential, &operation, Replay::NotSafe)
                .await?
                .create_facet
        }
    };
    let mut values = facet.values;
    values.sort_by_key(|v| id_order(v.id.inner()));
    let mut by_name: HashMap<String, Id> = HashMap::new();
    for v in values {
        by_name.entry(v.name).or_insert(v.id);
    }
    let missing: Vec<CreateFacetValueInput> = names
        .iter()
        .filter(|name| !by_name.contains_key(**name))
        .map(|name| CreateFacetValueInput {
            facet_id: facet.id.clone(),
            code: slug(name),
            translations: vec![FacetValueTranslationInput {
                language_code: language.clone(),
                name: Some(name.to_string()),
            }],
        })
        .collect();
    let overhead = CreateFacetValues::build(CreateFacetValuesVariables { input: vec![] })
        .query
        .len()
        + 64;
    for chunk in split(missing, overhead) {
        let operation = CreateFacetValues::build(CreateFacetValuesVariables { input: chunk });
        // A value made twice is found by its name and the older one used.
        let made = shop
            .client
            .run::<CreateFacetValues, _>(
                "createFacetValues",
                shop.credential,
                &operation,
                Replay::NotSafe,
            )
            .await?
            .create_facet_values;
        for v in made {
            by_name.entry(v.name).or_insert(v.id);
        }
    }
    Ok(Values {
        by_name,
        failed: None,
    })
}
