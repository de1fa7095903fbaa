//! Account and channel identifiers: the one rule that keeps ids safe to use
//! as file names and as keys (`[a-z0-9][a-z0-9_-]{0,62}`).

/// The master product source that means "the OMS itself"; never a channel id.
pub const OMS: &str = "oms";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "invalid {kind} id `{value}`: ids are 1 to 63 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit"
    )]
    Invalid { kind: &'static str, value: String },
    #[error(
        "invalid channel id `oms`: `oms` is reserved for the OMS itself as master product source"
    )]
    Reserved,
}

/// Checks an id against `[a-z0-9][a-z0-9_-]{0,62}`. `kind` is "account" or "channel".
pub fn check_id(kind: &'static str, value: &str) -> Result<(), IdError> {
    let bytes = value.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-');
    if !valid {
        return Err(IdError::Invalid {
            kind,
            value: value.escape_debug().to_string(),
        });
    }
    Ok(())
}

impl crate::error::HasKind for IdError {
    /// A bad id is refused (exit 1), wherever it was typed.
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Refused
    }
}

pub fn check_account_id(value: &str) -> Result<(), IdError> {
    check_id("account", value)
}

pub fn check_channel_id(value: &str) -> Result<(), IdError> {
    check_id("channel", value)?;
    if value == OMS {
        return Err(IdError::Reserved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses_ids() {
        let long_ok = "a".repeat(63);
        let too_long = "a".repeat(64);
        let cases: &[(&str, bool)] = &[
            ("acme", true),
            ("shop-eu", true),
            ("shop_eu2", true),
            ("0day", true),
            (&long_ok, true),
            (&too_long, false),
            ("", false),
            ("-x", false),
            ("_x", false),
            ("../x", false),
            ("a/b", false),
            ("a b", false),
            ("Acme", false),
            ("acmé", false),
            ("a.b", false),
        ];
        for (id, ok) in cases {
            assert_eq!(check_account_id(id).is_ok(), *ok, "{id:?}");
        }
    }

    #[test]
    fn oms_is_reserved_for_channels_only() {
        assert!(check_account_id("oms").is_ok());
        assert_eq!(check_channel_id("oms"), Err(IdError::Reserved));
    }
}
