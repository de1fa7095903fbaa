//! The fields of a product an export may own: a channel's `export-fields`
//! names them, an update writes only those, and [`super::diff`] compares
//! only those. A create always sends what the platform needs to make the
//! product whole.

use std::fmt;

use serde::{Serialize, Serializer};

/// One field of a product (or of its variants: `title`, `options` (their
/// values), `prices`, `stock` and `attributes` are on both).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Description,
    Status,
    Images,
    Categories,
    Tags,
    Options,
    Prices,
    Stock,
    Attributes,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Title,
        Field::Description,
        Field::Status,
        Field::Images,
        Field::Categories,
        Field::Tags,
        Field::Options,
        Field::Prices,
        Field::Stock,
        Field::Attributes,
    ];

    /// The account file's name for the field.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::Status => "status",
            Field::Images => "images",
            Field::Categories => "categories",
            Field::Tags => "tags",
            Field::Options => "options",
            Field::Prices => "prices",
            Field::Stock => "stock",
            Field::Attributes => "attributes",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A name that is no [`Field`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown export field `{name}` (fields: {})", field_names())]
pub struct UnknownField {
    pub name: String,
}

/// "title, description, ...", for messages.
pub fn field_names() -> String {
    Field::ALL.map(Field::as_str).join(", ")
}

impl std::str::FromStr for Field {
    type Err = UnknownField;

    fn from_str(name: &str) -> Result<Field, UnknownField> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| UnknownField {
                name: crate::output::escape(name).into_owned(),
            })
    }
}

/// A set of fields; [`FieldSet::ALL`] when a channel names none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldSet(u16);

impl FieldSet {
    pub const ALL: FieldSet = FieldSet((1 << Field::ALL.len()) - 1);
    pub const NONE: FieldSet = FieldSet(0);

    /// The fields `names` name (an account file's `export-fields`); the
    /// first unknown name is the error.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<FieldSet, UnknownField> {
        names.iter().try_fold(FieldSet::NONE, |set, name| {
            Ok(set.with(name.as_ref().parse()?))
        })
    }

    pub fn with(self, field: Field) -> FieldSet {
        FieldSet(self.0 | field.bit())
    }

    pub fn without(self, field: Field) -> FieldSet {
        FieldSet(self.0 & !field.bit())
    }

    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    pub fn is_all(self) -> bool {
        self == FieldSet::ALL
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The fields in the set, in [`Field::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl Default for FieldSet {
    fn default() -> FieldSet {
        FieldSet::ALL
    }
}

impl FromIterator<Field> for FieldSet {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> FieldSet {
        iter.into_iter().fold(FieldSet::NONE, FieldSet::with)
    }
}

impl fmt::Debug for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// `title, prices`.
impl fmt::Display for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Field::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

impl Serialize for FieldSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets_parse_from_names() {
        let cases: &[(&[&str], Result<&str, &str>)] = &[
            (&["prices", "stock"], Ok("prices, stock")),
            (&["stock", "prices", "stock"], Ok("prices, stock")),
            (&[], Ok("")),
            (
                &[
                    "title",
                    "description",
                    "status",
                    "images",
                    "categories",
                    "tags",
                    "options",
                    "prices",
                    "stock",
                    "attributes",
                ],
                Ok(
                    "title, description, status, images, categories, tags, options, prices, stock, attributes",
                ),
            ),
            (
                &["price"],
                Err("unknown export field `price` (fields: title, description"),
            ),
            (&["Title"], Err("unknown export field `Title`")),
        ];
        for (names, expected) in cases {
            match (FieldSet::parse(names), expected) {
                (Ok(set), Ok(text)) => assert_eq!(set.to_string(), *text, "{names:?}"),
                (Err(e), Err(text)) => assert!(e.to_string().starts_with(text), "{e}"),
                (got, _) => panic!("{names:?}: {got:?}"),
            }
        }
        let all = FieldSet::parse(&Field::ALL.map(Field::as_str)).unwrap();
        assert!(all.is_all());
        assert_eq!(FieldSet::default(), FieldSet::ALL);
        let owned = FieldSet::parse(&["prices"]).unwrap();
        assert!(owned.contains(Field::Prices) && !owned.contains(Field::Title));
        assert_eq!(
            serde_json::to_string(&owned.with(Field::Stock)).unwrap(),
            r#"["prices","stock"]"#
        );
    }
}
