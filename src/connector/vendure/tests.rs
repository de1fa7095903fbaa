//! Wire-level unit tests: replies decoded exactly as the client decodes them.

use super::client::{Credential, decode_reply};
use super::wire::{ProductsQuery, VariantsPage};
use crate::connector::http::excerpt;
use crate::connector::{ChannelError, CredentialKind};

const URL: &str = "http://127.0.0.1:3000/admin-api";

fn decode_as(body: &str, credential: Credential<'_>) -> Result<VariantsPage, ChannelError> {
    decode_reply::<VariantsPage>(
        "productVariants",
        credential,
        body.as_bytes(),
        URL,
        |text| excerpt(text, &["s3cret-key"]),
    )
}

fn decode(body: &str) -> Result<VariantsPage, String> {
    decode_as(body, Credential::Session("token")).map_err(|e| match e {
        ChannelError::Malformed { .. } => format!("malformed: {e}"),
        other => format!("error: {other}"),
    })
}

const ITEM: &str = r#"{"id":"1","sku":"A","productId":"5","updatedAt":"2026-11-27T09:00:00.123Z"}"#;

#[test]
fn fields_the_connector_did_not_ask_for_are_ignored() {
    let body = format!(
        r#"{{"data":{{"productVariants":{{"totalItems":1,"items":[{}],"brand":"x"}}}},"extensions":{{}}}}"#,
        ITEM.replace(
            "\"sku\"",
            "\"brand\":\"Acme\",\"customFields\":{\"a\":1},\"sku\""
        )
    );
    let page = decode(&body).unwrap();
    assert_eq!(page.product_variants.items[0].sku, "A");
}

#[test]
fn a_missing_required_field_fails_the_page_naming_it() {
    let body = format!(
        r#"{{"data":{{"productVariants":{{"totalItems":1,"items":[{}]}}}}}}"#,
        ITEM.replace(r#""productId":"5","#, "")
    );
    let error = decode(&body).unwrap_err();
    assert!(
        error.contains("malformed") && error.contains("`productId`"),
        "{error}"
    );
}

#[test]
fn a_float_price_fails_the_page_rather_than_being_rounded() {
    let product = |price: &str| {
        format!(
            r#"{{"data":{{"activeChannel":{{"id":"1","defaultCurrencyCode":"USD","availableCurrencyCodes":["USD"],"defaultLanguageCode":"en"}},
            "products":{{"totalItems":1,"items":[{{"id":"5","createdAt":"2026-11-27T09:00:00.123Z","updatedAt":"2026-11-27T09:00:00.123Z",
            "name":"Mug","slug":"mug","description":"","enabled":true,"facetValues":[],"optionGroups":[],"featuredAsset":null,"assets":[],"variants":[{{"id":"1","createdAt":"2026-11-27T09:00:00.123Z",
            "updatedAt":"2026-11-27T09:00:00.123Z","sku":"A","name":"Mug","enabled":true,"stockOnHand":3,"stockLevels":[],
            "prices":[{{"currencyCode":"USD","price":{price}}}],"options":[]}}]}}]}}}}}}"#
        )
    };
    let decode = |body: String| {
        decode_reply::<ProductsQuery>("products", Credential::None, body.as_bytes(), URL, |text| {
            excerpt(text, &[])
        })
    };
    let whole = decode(product("1999")).expect("an integer price decodes");
    assert_eq!(whole.products.items[0].variants[0].prices[0].price.0, 1999);
    assert!(matches!(
        decode(product("19.99")),
        Err(ChannelError::Malformed { .. })
    ));
}

#[test]
fn forbidden_inside_a_200_is_a_refused_credential_of_the_kind_sent() {
    let body = r#"{"errors":[{"message":"You are not currently authorized to perform this action","extensions":{"code":"FORBIDDEN"}}],"data":null}"#;
    for (credential, kind) in [
        (Credential::Session("t"), CredentialKind::AccessToken),
        (Credential::ApiKey("k"), CredentialKind::ApiKey),
    ] {
        match decode_as(body, credential) {
            Err(ChannelError::Unauthorized {
                credential, answer, ..
            }) => {
                assert_eq!(credential, kind);
                assert!(
                    answer.contains("FORBIDDEN to `productVariants`"),
                    "{answer}"
                );
            }
            other => panic!("FORBIDDEN must be Unauthorized: {other:?}"),
        }
    }
}

#[test]
fn vendure_error_messages_are_excerpted_and_redacted() {
    let body = r#"{"errors":[{"message":"bad key s3cret-key\u001b[2J\nline two","extensions":{"code":"X"}}]}"#;
    match decode_as(body, Credential::None) {
        Err(ChannelError::Refused { code, message, .. }) => {
            assert_eq!(code.as_deref(), Some("X"));
            assert_eq!(message, "bad key [redacted] [2J line two");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_errors_inside_a_200_are_failures_with_their_code_and_message() {
    let body = r#"{"errors":[{"message":"take must be at most 1000","extensions":{"code":"USER_INPUT_ERROR"}}],"data":null}"#;
    let error = decode(body).unwrap_err();
    assert!(
        error.contains("USER_INPUT_ERROR") && error.contains("take must be at most 1000"),
        "{error}"
    );
}

#[test]
fn a_reply_that_is_not_json_is_malformed_with_an_excerpt() {
    let error = decode("<html>bad gateway</html>").unwrap_err();
    assert!(
        error.contains("malformed") && error.contains("<html>"),
        "{error}"
    );
}
