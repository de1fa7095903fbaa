//! Handles: a product's key, a slug (`blue-mug-2`), and the handle of a
//! product known only by its SKU (a line of a flat load file, a flat
//! channel's product, a store made before products had handles).
//!
//! [`derive_handle`] is the SKU itself when the SKU is already a handle,
//! else the SKU's slug and 8 hex digits of a stable hash of the SKU. The
//! hash keeps SKUs that differ only in case or punctuation (`MUG-1`,
//! `mug-1`, `Mug.1`) apart: they are distinct SKUs, so they must never
//! become one product. It is the derivation the Medusa connector has used
//! for new products' handles, so handles it made before stay the same.

use super::rules::{MAX_HANDLE_BYTES, ProductError};

/// Room the hash suffix (`-` and 8 hex digits) needs in a handle.
const SUFFIX: usize = 9;

/// `text` in lower-case ASCII letters and digits, each run of other
/// characters one `-`, none at either end: `"Mug 1/Blue"` -> `"mug-1-blue"`.
/// Empty when `text` has no ASCII letter or digit.
pub fn slug(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

/// The handle of a product known only by `sku`: deterministic, the same
/// on every load and import, and distinct for distinct SKUs (up to a
/// 32-bit hash among SKUs of one slug).
pub fn derive_handle(sku: &str) -> String {
    let slug = slug(sku);
    if !slug.is_empty() && slug == sku {
        return slug;
    }
    let hash = sku.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    if slug.is_empty() {
        return format!("sku-{hash:08x}");
    }
    let mut base = slug;
    base.truncate(MAX_HANDLE_BYTES - SUFFIX);
    while base.ends_with('-') {
        base.pop();
    }
    format!("{base}-{hash:08x}")
}

/// The handle syntax: `[a-z0-9]+(-[a-z0-9]+)*`, at most
/// [`MAX_HANDLE_BYTES`] bytes.
pub fn check_handle(handle: &str) -> Result<(), ProductError> {
    let bad = |reason: &str| {
        Err(ProductError::Handle {
            handle: handle.to_string(),
            reason: reason.to_string(),
        })
    };
    if handle.is_empty() {
        return bad("empty");
    }
    if handle.len() > MAX_HANDLE_BYTES {
        return bad(&format!("{} bytes long", handle.len()));
    }
    if handle.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad("upper case");
    }
    if let Some(c) = handle
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return bad(&format!("character `{}`", c.escape_debug()));
    }
    if handle.starts_with('-') || handle.ends_with('-') || handle.contains("--") {
        return bad("a `-` at either end or two in a row");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_derive_from_skus_one_to_one() {
        let cases = [
            ("shirt-1", Some("shirt-1")),
            ("p0001", Some("p0001")),
            ("SHIRT-1", None),
            ("Mug 1/Blue", None),
            ("a--b", None),
            ("-a", None),
        ];
        for (sku, same) in cases {
            let handle = derive_handle(sku);
            check_handle(&handle).unwrap_or_else(|e| panic!("{sku}: {e}"));
            match same {
                Some(expected) => assert_eq!(handle, expected),
                None => {
                    assert!(handle.starts_with(&format!("{}-", slug(sku))), "{handle}");
                    assert_eq!(handle.len(), slug(sku).len() + SUFFIX, "{handle}");
                }
            }
            assert_eq!(handle, derive_handle(sku), "deterministic");
        }
        assert_ne!(derive_handle("abc"), derive_handle("ABC"));
        assert_ne!(derive_handle("A.1"), derive_handle("A-1"));
        assert!(derive_handle("ÄÖÜ").starts_with("sku-"));
        // Pinned: a changed hash would re-key every flat product's handle.
        assert_eq!(derive_handle("SKU-0001"), "sku-0001-8b5a7e32");
        let long = derive_handle(&"X".repeat(255));
        assert!(long.len() <= MAX_HANDLE_BYTES, "{}", long.len());
        check_handle(&long).unwrap();
    }

    #[test]
    fn slugs_keep_letters_and_digits() {
        assert_eq!(slug("MUG-1"), "mug-1");
        assert_eq!(slug("Mug 1/Blue"), "mug-1-blue");
        assert_eq!(slug("--x--"), "x");
        assert_eq!(slug("ÄÖ"), "");
    }

    #[test]
    fn the_handle_syntax() {
        for ok in ["a", "blue-mug-2", "0", &"a".repeat(255)] {
            assert!(check_handle(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("Blue", "upper case"),
            ("blue mug", "character ` `"),
            ("blue_mug", "character `_`"),
            ("-blue", "two in a row"),
            ("blue--mug", "two in a row"),
            ("blüe", "character `ü`"),
            (&"a".repeat(256), "256 bytes long"),
        ] {
            let err = check_handle(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
