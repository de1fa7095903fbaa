//! Vendure Admin API operations as cynic types, checked at build time against
//! the committed `schema.graphql` (see `build.rs`). Each type selects only
//! the fields the connector uses, so fields a newer Vendure adds never fail a
//! reply; a selected non-null field that is missing fails decoding, naming it.

#[cynic::schema("vendure")]
mod schema {}

pub use cynic::Id;

/// `DateTime` as Vendure sends it: an ISO 8601 string in milliseconds.
#[derive(cynic::Scalar, Clone, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "DateTime")]
pub struct DateTime(pub String);

/// `Money`: integer minor units of a currency. A float fails decoding: the
/// connector never takes a price through a float.
#[derive(cynic::Scalar, Clone, Copy, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "Money")]
pub struct Money(pub i64);

/// `CurrencyCode` as its ISO 4217 code, whatever codes the schema lists.
#[derive(cynic::Enum, Clone, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "CurrencyCode", non_exhaustive)]
pub enum CurrencyCode {
    // One named variant: cynic's derive needs one to type the fallback's match.
    Usd,
    #[cynic(fallback)]
    Code(String),
}

impl CurrencyCode {
    pub fn new(code: &str) -> CurrencyCode {
        match code {
            "USD" => CurrencyCode::Usd,
            other => CurrencyCode::Code(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CurrencyCode::Usd => "USD",
            CurrencyCode::Code(code) => code,
        }
    }
}

/// `LanguageCode` (e.g. `en`) as a string.
#[derive(cynic::Enum, Clone, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "LanguageCode", non_exhaustive)]
pub enum LanguageCode {
    // One named variant: cynic's derive needs one to type the fallback's match.
    #[cynic(rename = "en")]
    En,
    #[cynic(fallback)]
    Code(String),
}

impl LanguageCode {
    pub fn as_str(&self) -> &str {
        match self {
            LanguageCode::En => "en",
            LanguageCode::Code(code) => code,
        }
    }
}

/// `ErrorCode` of an `ErrorResult`, as a string.
#[derive(cynic::Enum, Clone, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "ErrorCode", non_exhaustive)]
pub enum ErrorCode {
    // One named variant: cynic's derive needs one to type the fallback's match.
    UnknownError,
    #[cynic(fallback)]
    Code(String),
}

impl ErrorCode {
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::UnknownError => "UNKNOWN_ERROR",
            ErrorCode::Code(code) => code,
        }
    }
}

#[derive(cynic::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "SortOrder")]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(cynic::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "DeletionResult")]
pub enum DeletionResult {
    Deleted,
    NotDeleted,
}

// ---------------------------------------------------------------- login

#[derive(cynic::QueryVariables, Debug)]
pub struct LoginVariables<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// `mutation { login(username, password) { ... } }`; the session token comes
/// back in the `vendure-auth-token` header.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "LoginVariables")]
pub struct Login {
    #[arguments(username: $username, password: $password)]
    pub login: NativeAuthenticationResult,
}

#[derive(cynic::InlineFragments, Debug)]
pub enum NativeAuthenticationResult {
    CurrentUser(#[allow(dead_code)] CurrentUser),
    InvalidCredentialsError(InvalidCredentialsError),
    NativeAuthStrategyError(NativeAuthStrategyError),
    #[cynic(fallback)]
    Unknown,
}

/// Selected so the fragment is not empty; the session is in a header.
#[allow(dead_code)]
#[derive(cynic::QueryFragment, Debug)]
pub struct CurrentUser {
    pub id: Id,
}

#[derive(cynic::QueryFragment, Debug)]
pub struct InvalidCredentialsError {
    pub error_code: ErrorCode,
    pub message: String,
}

#[derive(cynic::QueryFragment, Debug)]
pub struct NativeAuthStrategyError {
    pub error_code: ErrorCode,
    pub message: String,
}

// ---------------------------------------------------------------- channel

/// The channel the credential acts on (its currencies and language), and
/// proof that this is the Admin API and the credential may read the
/// catalog: the Shop API has `activeChannel` but no `productVariants`.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query")]
pub struct AdminApiCheck {
    pub active_channel: Channel,
    #[arguments(options: { take: 1 })]
    #[allow(dead_code)]
    pub product_variants: VariantCount,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
pub struct Channel {
    pub id: Id,
    pub default_currency_code: CurrencyCode,
    pub available_currency_codes: Vec<CurrencyCode>,
    pub default_language_code: LanguageCode,
}

// ---------------------------------------------------------------- listing

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct ProductVariantListOptions {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub skip: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub take: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub sort: Option<ProductVariantSortParameter>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub filter: Option<ProductVariantFilterParameter>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct ProductVariantSortParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<SortOrder>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub id: Option<SortOrder>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct ProductVariantFilterParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateOperators>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub sku: Option<StringOperators>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct DateOperators {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub between: Option<DateRange>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct DateRange {
    pub start: DateTime,
    pub end: DateTime,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct StringOperators {
    #[cynic(rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_: Option<Vec<String>>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct VariantListVariables {
    pub options: Option<ProductVariantListOptions>,
}

/// One import page: `productVariants(options)`.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "VariantListVariables")]
pub struct VariantsPage {
    #[arguments(options: $options)]
    pub product_variants: VariantList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "ProductVariantList")]
pub struct VariantList {
    pub items: Vec<ListedVariant>,
}

/// A variant as an import reads it.
#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariant")]
pub struct ListedVariant {
    pub id: Id,
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub currency_code: CurrencyCode,
    pub stock_on_hand: i32,
    pub updated_at: DateTime,
}

/// The export's look-up: the channel's currencies and the variants that
/// already carry the batch's SKUs, with what an update compares.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "VariantListVariables")]
pub struct VariantsBySku {
    pub active_channel: Channel,
    #[arguments(options: $options)]
    pub product_variants: ExistingVariantList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "ProductVariantList")]
pub struct ExistingVariantList {
    pub total_items: i32,
    pub items: Vec<ExistingVariant>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariant")]
pub struct ExistingVariant {
    pub id: Id,
    pub product_id: Id,
    pub sku: String,
    pub name: String,
    pub stock_on_hand: i32,
    pub prices: Vec<VariantPrice>,
    pub product: VariantProduct,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariantPrice")]
pub struct VariantPrice {
    pub currency_code: CurrencyCode,
    pub price: Money,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "Product")]
pub struct VariantProduct {
    pub variant_list: VariantCount,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariantList")]
pub struct VariantCount {
    pub total_items: i32,
}

// ---------------------------------------------------------------- export

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateProductInput {
    pub translations: Vec<ProductTranslationInput>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct ProductTranslationInput {
    pub language_code: LanguageCode,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateProductVariables {
    pub input: CreateProductInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateProductVariables")]
pub struct CreateProduct {
    #[arguments(input: $input)]
    pub create_product: CreatedProduct,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Product")]
pub struct CreatedProduct {
    pub id: Id,
}

#[derive(cynic::InputObject, Clone, Debug, PartialEq)]
pub struct ProductVariantTranslationInput {
    pub language_code: LanguageCode,
    pub name: Option<String>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateProductVariantPriceInput {
    pub currency_code: CurrencyCode,
    pub price: Money,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateProductVariantInput {
    pub product_id: Id,
    pub sku: String,
    pub translations: Vec<ProductVariantTranslationInput>,
    /// In the channel's default currency.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// In another currency the channel accepts.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub prices: Option<Vec<Option<CreateProductVariantPriceInput>>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub stock_on_hand: Option<i32>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateVariantsVariables {
    pub input: Vec<CreateProductVariantInput>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateVariantsVariables")]
pub struct CreateVariants {
    #[arguments(input: $input)]
    pub create_product_variants: Vec<Option<ChangedVariant>>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariant")]
pub struct ChangedVariant {
    pub id: Id,
    pub sku: String,
}

#[derive(cynic::InputObject, Clone, Debug, PartialEq)]
pub struct UpdateProductVariantPriceInput {
    pub currency_code: CurrencyCode,
    pub price: Money,
}

#[derive(cynic::InputObject, Clone, Debug, PartialEq)]
pub struct UpdateProductVariantInput {
    pub id: Id,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub translations: Option<Vec<ProductVariantTranslationInput>>,
    /// In the channel's default currency.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// In another currency the channel accepts.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub prices: Option<Vec<UpdateProductVariantPriceInput>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub stock_on_hand: Option<i32>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct UpdateVariantsVariables {
    pub input: Vec<UpdateProductVariantInput>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "UpdateVariantsVariables")]
pub struct UpdateVariants {
    #[arguments(input: $input)]
    pub update_product_variants: Vec<Option<ChangedVariant>>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct DeleteVariables {
    pub ids: Vec<Id>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "DeleteVariables")]
pub struct DeleteVariants {
    #[arguments(ids: $ids)]
    pub delete_product_variants: Vec<DeletionResponse>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "DeleteVariables")]
pub struct DeleteProducts {
    #[arguments(ids: $ids)]
    pub delete_products: Vec<DeletionResponse>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
pub struct DeletionResponse {
    pub result: DeletionResult,
    pub message: Option<String>,
}
