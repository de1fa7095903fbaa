//! The rules every product meets wherever it comes from (`products load`,
//! an import from any channel, the store): a handle by the handle syntax, a
//! SKU by the SKU rule, prices by the price rule (a [`crate::price::Price`]
//! only holds a price that passed it), shop text without control characters
//! and within the sizes below, one value per option, a combination of option
//! values per variant of its own, SKUs unique within the product, stock of 0
//! or more, at least one variant, an `updated_at` in the supported range.
//!
//! The sizes are what real shops take: Vendure and most SQL-backed shops
//! keep names in 255-character columns; Shopify allows 250 images and 250
//! tags a product; a description fits a 64 KiB text column. A product with
//! many variants can outgrow what one request to a shop carries: that is
//! the channel's `max-request-bytes`, refused for that product alone at
//! export, not a catalog rule.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::handle::check_handle;
use super::{Product, Variant};
use crate::output::escape;
use crate::price::PriceError;
use crate::timestamp::InstantError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("empty `sku`")]
    EmptySku,
    #[error("invalid sku `{shown}`: {reason} (a sku is printable text without leading or trailing spaces, at most {MAX_SKU_BYTES} bytes)", shown = shown(.sku))]
    Sku { sku: String, reason: String },
    #[error("invalid handle `{shown}`: {reason} (a handle is lower-case letters and digits in words joined by single `-`, such as `blue-mug-2`, at most {MAX_HANDLE_BYTES} bytes)", shown = shown(.handle))]
    Handle { handle: String, reason: String },
    #[error(transparent)]
    Price(#[from] PriceError),
    /// `field` names the field (`title`, "attribute `color`", ...), already
    /// escaped.
    #[error(
        "{field} `{shown}` has control character U+{code:04X} at character {at}: {allowed}",
        shown = shown(.text),
        code = u32::from(*.control),
        allowed = if *.multiline {
            "text may hold line breaks and TABs, no other control characters"
        } else {
            "shop text is printable, without control characters (TAB and line breaks included)"
        }
    )]
    ControlCharacter {
        field: String,
        text: String,
        control: char,
        at: usize,
        multiline: bool,
    },
    #[error("{field} `{shown}` is {chars} characters long: at most {max}", shown = shown(.text))]
    TooLong {
        field: String,
        text: String,
        chars: usize,
        max: usize,
    },
    /// `what` names the field: "attribute name", "tag", "option name", ...
    #[error("{what} `` is empty: {fix}")]
    Empty {
        what: &'static str,
        fix: &'static str,
    },
    #[error("{count} attributes: at most {MAX_ATTRIBUTES}")]
    TooManyAttributes { count: usize },
    #[error("{count} {what}: at most {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("invalid updated_at: {0}")]
    UpdatedAt(#[from] InstantError),
    #[error("invalid quantity {0}: must not be negative")]
    Quantity(i64),
    #[error("no variants: a product has at least one")]
    NoVariants,
    #[error("{what} `{shown}` appears twice", shown = shown(.value))]
    Twice { what: &'static str, value: String },
    #[error(
        "{found} option values for {expected} options ({names}): give one value per option, in the product's order"
    )]
    OptionValues {
        found: usize,
        expected: usize,
        names: String,
    },
    #[error("option values ({values}) are also those of variant `{other}`: each variant has a combination of its own{hint}", other = shown(.other), hint = if .values.is_empty() { "; a product without options has one variant" } else { "" })]
    SameOptions { values: String, other: String },
    #[error("stock at `{location}` is {on_hand}: stock is 0 or more", location = shown(.location))]
    NegativeStock { location: String, on_hand: i64 },
    #[error("image `{shown}`: {reason}", shown = shown(.url))]
    ImageUrl { url: String, reason: String },
    #[error("category `{shown}` has an empty segment: write paths such as `Clothing > Shirts`", shown = shown(.path))]
    Category { path: String },
    #[error("variant `{sku}`: {source}", sku = shown(.sku))]
    InVariant {
        sku: String,
        source: Box<ProductError>,
    },
}

/// The longest sku, in bytes of UTF-8.
pub const MAX_SKU_BYTES: usize = 255;
/// The longest handle, in bytes (ASCII).
pub const MAX_HANDLE_BYTES: usize = 255;
/// The longest title (a product's or a variant's), in characters.
pub const MAX_TITLE_CHARS: usize = 255;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 65_535;
/// The most attributes a product (or a variant) has.
pub const MAX_ATTRIBUTES: usize = 50;
/// The longest attribute name, in characters.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 64;
/// The longest attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 255;
/// The longest channel id of a product or variant, in characters.
pub const MAX_ID_CHARS: usize = 255;
/// The most variants a product has.
pub const MAX_VARIANTS: usize = 1000;
/// The most options a product has.
pub const MAX_OPTIONS: usize = 10;
/// The longest option name or value, in characters.
pub const MAX_OPTION_CHARS: usize = 255;
/// The most tags a product has, and the longest tag in characters.
pub const MAX_TAGS: usize = 250;
pub const MAX_TAG_CHARS: usize = 255;
/// The most images a product has, the longest URL and alt text in characters.
pub const MAX_IMAGES: usize = 250;
pub const MAX_IMAGE_URL_CHARS: usize = 2048;
pub const MAX_ALT_CHARS: usize = 512;
/// The most category paths a product is in, and the longest path.
pub const MAX_CATEGORIES: usize = 50;
pub const MAX_CATEGORY_CHARS: usize = 1024;
/// The most stock locations a variant has, and the longest location name.
pub const MAX_LOCATIONS: usize = 100;
pub const MAX_LOCATION_CHARS: usize = 64;

/// Text from outside as a message shows it: escaped, and cut after 40
/// characters.
pub(crate) fn shown(text: &str) -> String {
    let mut shown = escape(&text.chars().take(40).collect::<String>()).into_owned();
    if text.chars().count() > 40 {
        shown.push_str("...");
    }
    shown
}

/// The sku rules, the same for `products load`, import and `products remove`:
/// non-empty, printable (no control characters), no leading or trailing
/// white space, at most [`MAX_SKU_BYTES`] bytes.
pub fn check_sku(sku: &str) -> Result<(), ProductError> {
    let bad = |reason: String| {
        Err(ProductError::Sku {
            sku: sku.to_string(),
            reason,
        })
    };
    if sku.is_empty() {
        return Err(ProductError::EmptySku);
    }
    if sku.len() > MAX_SKU_BYTES {
        return bad(format!("{} bytes long", sku.len()));
    }
    if let Some((at, c)) = sku.char_indices().find(|(_, c)| c.is_control()) {
        return bad(format!(
            "control character U+{:04X} at byte {at}",
            u32::from(c)
        ));
    }
    if sku.starts_with(char::is_whitespace) {
        return bad("leading white space".into());
    }
    if sku.ends_with(char::is_whitespace) {
        return bad("trailing white space".into());
    }
    Ok(())
}

/// The stock location rule, the same for a variant's stock and `stock load`:
/// a non-empty name of printable text, at most [`MAX_LOCATION_CHARS`].
pub fn check_location(location: &str) -> Result<(), ProductError> {
    not_empty("stock location", "name every location", location)?;
    check_text("stock location", location, MAX_LOCATION_CHARS)
}

/// The shop text rule: no control character (C0, TAB and line breaks
/// included, DEL, C1), at most `max_chars` characters. `field` names the
/// field in the message. TAB is refused in titles too: shops show titles on
/// one line, and a TAB breaks every table and TSV export that carries it.
pub fn check_text(field: &str, text: &str, max_chars: usize) -> Result<(), ProductError> {
    check_text_with(field, text, max_chars, false)
}

/// The rule for text that may span lines (a description, which may be
/// HTML): line breaks and TABs are fine, other control characters are not
/// (an ESC still drives a terminal).
pub fn check_multiline_text(field: &str, text: &str, max_chars: usize) -> Result<(), ProductError> {
    check_text_with(field, text, max_chars, true)
}

fn check_text_with(
    field: &str,
    text: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<(), ProductError> {
    let refused = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'));
    if let Some((at, control)) = text.chars().enumerate().find(|(_, c)| refused(*c)) {
        return Err(ProductError::ControlCharacter {
            field: field.to_string(),
            text: text.to_string(),
            control,
            at: at + 1,
            multiline,
        });
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(ProductError::TooLong {
            field: field.to_string(),
            text: text.to_string(),
            chars,
            max: max_chars,
        });
    }
    Ok(())
}

/// Names and values of an attribute map (a product's or a variant's).
pub fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), ProductError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ProductError::TooManyAttributes {
            count: attributes.len(),
        });
    }
    for (name, value) in attributes {
        if name.is_empty() {
            return Err(ProductError::Empty {
                what: "attribute name",
                fix: "name every attribute",
            });
        }
        check_text("attribute name", name, MAX_ATTRIBUTE_NAME_CHARS)?;
        check_text(
            &format!("attribute `{}`", shown(name)),
            value,
            MAX_ATTRIBUTE_VALUE_CHARS,
        )?;
    }
    Ok(())
}

/// A channel's id for a product or variant.
pub fn check_id(id: Option<&str>) -> Result<(), ProductError> {
    match id {
        Some(id) => check_text("id", id, MAX_ID_CHARS),
        None => Ok(()),
    }
}

fn at_most(what: &'static str, count: usize, max: usize) -> Result<(), ProductError> {
    if count > max {
        return Err(ProductError::TooMany { what, count, max });
    }
    Ok(())
}

fn not_empty(what: &'static str, fix: &'static str, text: &str) -> Result<(), ProductError> {
    if text.is_empty() {
        return Err(ProductError::Empty { what, fix });
    }
    Ok(())
}

fn check_image(url: &str, alt: &str) -> Result<(), ProductError> {
    check_text("image url", url, MAX_IMAGE_URL_CHARS)?;
    let refused = |reason: &str| ProductError::ImageUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
        Ok(_) => return Err(refused("an image is an http:// or https:// URL")),
        Err(e) => return Err(refused(&format!("not a URL ({e})"))),
    }
    check_text("image alt text", alt, MAX_ALT_CHARS)
}

impl Product {
    /// Applies every rule; the first broken one is the error. A variant's
    /// problem names the variant ([`ProductError::InVariant`]).
    pub fn check(&self) -> Result<(), ProductError> {
        check_handle(&self.handle)?;
        check_text("title", &self.title, MAX_TITLE_CHARS)?;
        check_multiline_text("description", &self.description, MAX_DESCRIPTION_CHARS)?;
        at_most("categories", self.categories.len(), MAX_CATEGORIES)?;
        for path in &self.categories {
            check_text("category", path, MAX_CATEGORY_CHARS)?;
            if path.split(" > ").any(|segment| segment.trim().is_empty()) {
                return Err(ProductError::Category { path: path.clone() });
            }
        }
        at_most("tags", self.tags.len(), MAX_TAGS)?;
        let mut tags = HashSet::with_capacity(self.tags.len());
        for tag in &self.tags {
            not_empty("tag", "leave empty tags out", tag)?;
            check_text("tag", tag, MAX_TAG_CHARS)?;
            if !tags.insert(tag.as_str()) {
                return Err(ProductError::Twice {
                    what: "tag",
                    value: tag.clone(),
                });
            }
        }
        at_most("images", self.images.len(), MAX_IMAGES)?;
        for image in &self.images {
            check_image(&image.url, &image.alt)?;
        }
        at_most("options", self.options.len(), MAX_OPTIONS)?;
        let mut options = HashSet::with_capacity(self.options.len());
        for name in &self.options {
            not_empty("option name", "name every option", name)?;
            check_text("option name", name, MAX_OPTION_CHARS)?;
            if !options.insert(name.as_str()) {
                return Err(ProductError::Twice {
                    what: "option",
                    value: name.clone(),
                });
            }
        }
        check_attributes(&self.attributes)?;
        check_id(self.id.as_deref())?;
        self.updated_at_timestamp()?;
        if self.variants.is_empty() {
            return Err(ProductError::NoVariants);
        }
        at_most("variants", self.variants.len(), MAX_VARIANTS)?;
        let mut skus = HashSet::with_capacity(self.variants.len());
        let mut combinations: HashMap<&[String], &str> = HashMap::new();
        for variant in &self.variants {
            let in_variant = |source: ProductError| ProductError::InVariant {
                sku: variant.sku.clone(),
                source: Box::new(source),
            };
            check_sku(&variant.sku)?;
            if !skus.insert(variant.sku.as_str()) {
                return Err(ProductError::Twice {
                    what: "sku",
                    value: variant.sku.clone(),
                });
            }
            self.check_variant(variant).map_err(in_variant)?;
            if let Some(other) = combinations.insert(&variant.option_values, &variant.sku) {
                return Err(in_variant(ProductError::SameOptions {
                    values: variant.option_values.join(", "),
                    other: other.to_string(),
                }));
            }
        }
        Ok(())
    }

    /// A variant's own rules, against its product's options.
    fn check_variant(&self, variant: &Variant) -> Result<(), ProductError> {
        check_text("title", &variant.title, MAX_TITLE_CHARS)?;
        if variant.option_values.len() != self.options.len() {
            return Err(ProductError::OptionValues {
                found: variant.option_values.len(),
                expected: self.options.len(),
                names: self.options.join(", "),
            });
        }
        for value in &variant.option_values {
            not_empty("option value", "give every option a value", value)?;
            check_text("option value", value, MAX_OPTION_CHARS)?;
        }
        at_most("stock locations", variant.stock.len(), MAX_LOCATIONS)?;
        for (location, &on_hand) in &variant.stock {
            check_location(location)?;
            if on_hand < 0 {
                return Err(ProductError::NegativeStock {
                    location: location.clone(),
                    on_hand,
                });
            }
        }
        check_attributes(&variant.attributes)?;
        check_id(variant.id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_data::*;
    use crate::catalog::{Image, ProductStatus};

    #[test]
    fn sku_rules() {
        for ok in [
            "A",
            "SKU-0000001",
            "a b",
            "Größe-XL",
            "粗茶",
            &"x".repeat(255),
        ] {
            assert!(check_sku(ok).is_ok(), "{ok}");
        }
        let cases: [(&str, &str); 7] = [
            ("", "empty `sku`"),
            (" A", "leading white space"),
            ("A\t", "control character U+0009 at byte 1"),
            ("A ", "trailing white space"),
            ("A\u{7f}B", "control character U+007F"),
            ("\u{a0}A", "leading white space"),
            ("\n", "control character U+000A at byte 0"),
        ];
        for (bad, expected) in cases {
            let err = check_sku(bad).unwrap_err().to_string();
            assert!(err.contains(expected), "{bad:?}: {err}");
        }
        let long = "x".repeat(100_000);
        let err = check_sku(&long).unwrap_err().to_string();
        assert!(err.contains("100000 bytes long"), "{err}");
        assert!(err.len() < 300, "the sku is cut in the message: {err}");
        assert!(check_sku(&"é".repeat(128)).is_err(), "256 bytes");
    }

    #[test]
    fn every_rule_names_what_broke_it() {
        type Edit = fn(&mut Product);
        let cases: &[(&str, Edit, Option<&str>)] = &[
            ("the shirt", |_| {}, None),
            ("unicode", |p| p.title = "Größe XL – 粗茶 €".into(), None),
            ("255 characters", |p| p.title = "é".repeat(255), None),
            (
                "ESC in the title",
                |p| p.title = "Mug\u{1b}]0;owned\u{7}".into(),
                Some(
                    "title `Mug\\u{1b}]0;owned\\u{7}` has control character U+001B at character 4",
                ),
            ),
            (
                "TAB in the title",
                |p| p.title = "Mug\tred".into(),
                Some("control character U+0009 at character 4"),
            ),
            (
                "256 characters",
                |p| p.title = "é".repeat(256),
                Some("is 256 characters long: at most 255"),
            ),
            (
                "lines and TABs in a description",
                |p| p.description = "<p>\n\tHi\r\n</p>".into(),
                None,
            ),
            (
                "ESC in a description",
                |p| p.description = "a\u{1b}[2J".into(),
                Some(
                    "description `a\\u{1b}[2J` has control character U+001B at character 2: text may hold line breaks",
                ),
            ),
            (
                "a long description",
                |p| p.description = "d".repeat(65_536),
                Some("is 65536 characters long: at most 65535"),
            ),
            (
                "a bad handle",
                |p| p.handle = "T-Shirt".into(),
                Some("invalid handle `T-Shirt`: upper case"),
            ),
            (
                "no variants",
                |p| p.variants.clear(),
                Some("no variants: a product has at least one"),
            ),
            (
                "a sku twice",
                |p| p.variants[1].sku = "TS-S".into(),
                Some("sku `TS-S` appears twice"),
            ),
            (
                "a bad sku",
                |p| p.variants[1].sku = "TS M ".into(),
                Some("invalid sku `TS M `: trailing white space"),
            ),
            (
                "a missing option value",
                |p| p.variants[1].option_values.clear(),
                Some("variant `TS-M`: 0 option values for 1 options (Size)"),
            ),
            (
                "an empty option value",
                |p| p.variants[1].option_values = vec![String::new()],
                Some("variant `TS-M`: option value `` is empty"),
            ),
            (
                "one combination twice",
                |p| p.variants[2].option_values = vec!["S".into()],
                Some("variant `TS-L`: option values (S) are also those of variant `TS-S`"),
            ),
            (
                "two variants without options",
                |p| {
                    p.options.clear();
                    for v in &mut p.variants {
                        v.option_values.clear();
                    }
                },
                Some(
                    "variant `TS-M`: option values () are also those of variant `TS-S`: each variant has a combination of its own; a product without options has one variant",
                ),
            ),
            (
                "an option twice",
                |p| p.options.push("Size".into()),
                Some("option `Size` appears twice"),
            ),
            (
                "negative stock",
                |p| {
                    p.variants[0].stock.insert("berlin".into(), -1);
                },
                Some("variant `TS-S`: stock at `berlin` is -1: stock is 0 or more"),
            ),
            (
                "a tag twice",
                |p| p.tags.push("summer".into()),
                Some("tag `summer` appears twice"),
            ),
            (
                "an empty tag",
                |p| p.tags.push(String::new()),
                Some("tag `` is empty"),
            ),
            (
                "251 tags",
                |p| p.tags = (0..251).map(|i| format!("t{i}")).collect(),
                Some("251 tags: at most 250"),
            ),
            (
                "an image that is no URL",
                |p| {
                    p.images.push(Image {
                        url: "ts.jpg".into(),
                        alt: String::new(),
                    })
                },
                Some("image `ts.jpg`: not a URL"),
            ),
            (
                "an image by ftp",
                |p| {
                    p.images.push(Image {
                        url: "ftp://x.example/a.jpg".into(),
                        alt: String::new(),
                    })
                },
                Some("an image is an http:// or https:// URL"),
            ),
            (
                "an empty category segment",
                |p| p.categories.push("Clothing >  > Shirts".into()),
                Some("category `Clothing >  > Shirts` has an empty segment"),
            ),
            (
                "a variant attribute",
                |p| {
                    p.variants[0]
                        .attributes
                        .insert("colour".into(), "re\nd".into());
                },
                Some("variant `TS-S`: attribute `colour` `re\\nd` has control character U+000A"),
            ),
            (
                "51 attributes",
                |p| p.attributes = (0..51).map(|i| (format!("a{i}"), "x".into())).collect(),
                Some("51 attributes: at most 50"),
            ),
            (
                "an empty attribute name",
                |p| {
                    p.attributes.insert(String::new(), "x".into());
                },
                Some("attribute name `` is empty"),
            ),
            (
                "an id",
                |p| p.id = Some("v\u{1b}1".into()),
                Some("id `v\\u{1b}1`"),
            ),
            (
                "updated_at",
                |p| p.updated_at = "9999-12-31T23:59:59Z".into(),
                Some("beyond the supported range"),
            ),
            ("draft", |p| p.status = ProductStatus::Draft, None),
        ];
        for (what, edit, expected) in cases {
            let mut p = shirt();
            edit(&mut p);
            match (p.check(), expected) {
                (Ok(()), None) => {}
                (Err(err), Some(expected)) => {
                    let text = err.to_string();
                    assert!(text.contains(expected), "{what}: {text}");
                    assert!(!text.chars().any(char::is_control), "{what}: {text:?}");
                }
                (got, _) => panic!("{what}: {got:?}, expected {expected:?}"),
            }
        }
    }
}
