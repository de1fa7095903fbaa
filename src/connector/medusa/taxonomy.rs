//! Categories and tags: Medusa keeps them as entities of their own, linked
//! to products by id. A catalog category path (`Clothing > Shirts`) is a
//! chain of Medusa categories, each found (or created when missing) by a
//! handle derived from its path (`clothing`, `clothing-shirts`); a tag is
//! found (or created) by its value, which Medusa keeps unique.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::json;

use super::export::item_error;
use super::{ChannelError, Credential, MedusaClient, Replay};
use crate::catalog::slug;

/// Categories per request when listing them all.
const PAGE: usize = 500;

/// Every product category of the store, by id.
#[derive(Debug, Default, Clone)]
pub struct CategoryTree {
    by_id: HashMap<String, Category>,
}

#[derive(Debug, Clone, Deserialize)]
struct Category {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    parent_category_id: Option<String>,
}

#[derive(Deserialize)]
struct CategoryList {
    product_categories: Vec<Category>,
    #[serde(default)]
    count: Option<usize>,
}

#[derive(Deserialize)]
struct Tag {
    id: String,
    value: String,
}

#[derive(Deserialize)]
struct TagList {
    product_tags: Vec<Tag>,
}

/// The segments of a catalog category path.
fn segments(path: &str) -> Vec<&str> {
    path.split(" > ").map(str::trim).collect()
}

/// The handle of the category at `path` (all its segments).
pub fn category_handle(path: &[&str]) -> String {
    slug(&path.join(" "))
}

impl CategoryTree {
    /// A tree of `(id, name, parent id)`, for tests.
    #[cfg(test)]
    pub(super) fn of(entries: &[(&str, &str, Option<&str>)]) -> CategoryTree {
        CategoryTree {
            by_id: entries
                .iter()
                .map(|(id, name, parent)| {
                    let category = Category {
                        id: id.to_string(),
                        name: name.to_string(),
                        handle: Some(slug(name)),
                        parent_category_id: parent.map(str::to_string),
                    };
                    (id.to_string(), category)
                })
                .collect(),
        }
    }

    /// The catalog path of category `id` (`Clothing > Shirts`), from the
    /// root; `None` for an unknown id or a cycle.
    pub fn path(&self, id: &str) -> Option<String> {
        let mut names = Vec::new();
        let mut at = Some(id);
        while let Some(id) = at {
            let category = self.by_id.get(id)?;
            names.push(category.name.as_str());
            if names.len() > 64 {
                return None;
            }
            at = category.parent_category_id.as_deref();
        }
        names.reverse();
        Some(names.join(" > "))
    }

    fn by_handle(&self, handle: &str) -> Option<&str> {
        self.by_id
            .values()
            .find(|c| c.handle.as_deref() == Some(handle))
            .map(|c| c.id.as_str())
    }
}

impl MedusaClient {
    /// Every product category of the store.
    pub(super) async fn category_tree(
        &self,
        credential: Credential<'_>,
    ) -> Result<CategoryTree, ChannelError> {
        let mut tree = CategoryTree::default();
        let mut offset = 0;
        loop {
            let (limit, from) = (PAGE.to_string(), offset.to_string());
            let list: CategoryList = self
                .get(
                    "admin/product-categories",
                    &[
                        ("limit", limit.as_str()),
                        ("offset", from.as_str()),
                        ("fields", "id,name,handle,parent_category_id"),
                    ],
                    credential,
                )
                .await?;
            let got = list.product_categories.len();
            offset += got;
            tree.by_id.extend(
                list.product_categories
                    .into_iter()
                    .map(|c| (c.id.clone(), c)),
            );
            if got == 0 || list.count.is_none_or(|count| offset >= count) {
                return Ok(tree);
            }
        }
    }

    /// The ids of these category paths (the last segment's category),
    /// creating the missing categories top down. `Ok(Err(why))` when
    /// Medusa refused one.
    pub(super) async fn category_ids(
        &self,
        credential: Credential<'_>,
        tree: &mut CategoryTree,
        paths: &BTreeSet<&str>,
    ) -> Result<Result<BTreeMap<String, String>, String>, ChannelError> {
        let mut ids = BTreeMap::new();
        for path in paths {
            let parts = segments(path);
            let mut parent: Option<String> = None;
            for depth in 1..=parts.len() {
                let handle = category_handle(&parts[..depth]);
                let id = match tree.by_handle(&handle) {
                    Some(id) => id.to_string(),
                    None => {
                        let body = json!({
                            "name": parts[depth - 1],
                            "handle": handle,
                            "is_active": true,
                            "parent_category_id": parent,
                        });
                        #[derive(Deserialize)]
                        struct Made {
                            product_category: Category,
                        }
                        // Categories are keyed by their unique handle: a
                        // second create is refused, never a second one.
                        let made: Made = match self
                            .post(
                                "admin/product-categories",
                                &[("fields", "id,name,handle,parent_category_id")],
                                credential,
                                &body.to_string(),
                                Replay::Safe,
                            )
                            .await
                        {
                            Ok(made) => made,
                            Err(err) => {
                                let why = item_error(err)?;
                                return Ok(Err(format!("category `{path}`: {why}")));
                            }
                        };
                        let id = made.product_category.id.clone();
                        tree.by_id.insert(id.clone(), made.product_category);
                        id
                    }
                };
                parent = Some(id);
            }
            if let Some(id) = parent {
                ids.insert(path.to_string(), id);
            }
        }
        Ok(Ok(ids))
    }

    /// The ids of these tags by value, creating the missing ones.
    pub(super) async fn tag_ids(
        &self,
        credential: Credential<'_>,
        values: &BTreeSet<&str>,
    ) -> Result<Result<BTreeMap<String, String>, String>, ChannelError> {
        let mut ids = BTreeMap::new();
        let values: Vec<&str> = values.iter().copied().collect();
        for chunk in values.chunks(50) {
            let mut query: Vec<(&str, &str)> = chunk.iter().map(|v| ("value[]", *v)).collect();
            let limit = chunk.len().to_string();
            query.push(("limit", &limit));
            query.push(("fields", "id,value"));
            let list: TagList = self.get("admin/product-tags", &query, credential).await?;
            ids.extend(list.product_tags.into_iter().map(|t| (t.value, t.id)));
        }
        for value in values {
            if ids.contains_key(value) {
                continue;
            }
            #[derive(Deserialize)]
            struct Made {
                product_tag: Tag,
            }
            // Tags are keyed by their unique value: a second create is
            // refused, never a second tag.
            match self
                .post::<Made>(
                    "admin/product-tags",
                    &[("fields", "id,value")],
                    credential,
                    &json!({ "value": value }).to_string(),
                    Replay::Safe,
                )
                .await
            {
                Ok(made) => {
                    ids.insert(made.product_tag.value, made.product_tag.id);
                }
                Err(err) => {
                    let why = item_error(err)?;
                    return Ok(Err(format!("tag `{value}`: {why}")));
                }
            }
        }
        Ok(Ok(ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_paths_run_from_the_root_and_handles_follow_them() {
        let tree = CategoryTree::of(&[
            ("c1", "Clothing", None),
            ("c2", "Shirts", Some("c1")),
            ("loop", "Loop", Some("loop")),
        ]);
        assert_eq!(tree.path("c2").as_deref(), Some("Clothing > Shirts"));
        assert_eq!(tree.path("c1").as_deref(), Some("Clothing"));
        assert_eq!(tree.path("nope"), None);
        assert_eq!(tree.path("loop"), None, "a cycle is no path");
        assert_eq!(
            category_handle(&segments("Clothing > Summer Shirts")),
            "clothing-summer-shirts"
        );
        assert_eq!(category_handle(&segments("Clothing")), "clothing");
    }
}
