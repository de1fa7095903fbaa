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
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub after: Option<DateTime>,
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

/// A variant as an import pages them: its product is read whole after.
#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariant")]
pub struct ListedVariant {
    pub id: Id,
    pub sku: String,
    pub product_id: Id,
    pub updated_at: DateTime,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariantPrice")]
pub struct VariantPrice {
    pub currency_code: CurrencyCode,
    pub price: Money,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariantList")]
pub struct VariantCount {
    // Selected so the fragment is not empty.
    #[allow(dead_code)]
    pub total_items: i32,
}

// ---------------------------------------------------------------- export

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateProductInput {
    pub translations: Vec<ProductTranslationInput>,
    pub enabled: Option<bool>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub facet_value_ids: Option<Vec<Id>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub asset_ids: Option<Vec<Id>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub featured_asset_id: Option<Id>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct ProductTranslationInput {
    pub language_code: LanguageCode,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[cynic(skip_serializing_if = "Option::is_none")]
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
pub struct CreateProductVariantInput {
    pub product_id: Id,
    pub sku: String,
    pub translations: Vec<ProductVariantTranslationInput>,
    /// In the channel's default currency (Vendure's create ignores
    /// `prices`: other currencies follow in an update).
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub stock_on_hand: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub stock_levels: Option<Vec<StockLevelInput>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub option_ids: Option<Vec<Id>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
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
    /// Removes the variant's price in this currency.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub delete: Option<bool>,
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
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub stock_levels: Option<Vec<StockLevelInput>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub option_ids: Option<Vec<Id>>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct UpdateVariantsVariables {
    pub input: Vec<UpdateProductVariantInput>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "UpdateVariantsVariables")]
pub struct UpdateVariants {
    // Selected so the fragment is not empty; an error is in `errors`.
    #[allow(dead_code)]
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

// ---------------------------------------------------------------- whole products

#[derive(cynic::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[cynic(graphql_type = "LogicalOperator")]
pub enum LogicalOperator {
    And,
    Or,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
#[cynic(graphql_type = "IDOperators")]
pub struct IdOperators {
    #[cynic(rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_: Option<Vec<String>>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct ProductFilterParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub id: Option<IdOperators>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub slug: Option<StringOperators>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateOperators>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct ProductSortParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub id: Option<SortOrder>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct ProductListOptions {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub skip: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub take: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub sort: Option<ProductSortParameter>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub filter: Option<ProductFilterParameter>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub filter_operator: Option<LogicalOperator>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct ProductListVariables {
    pub options: Option<ProductListOptions>,
}

/// Whole products (with their option groups and variants) and the channel
/// they are read in.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "ProductListVariables")]
pub struct ProductsQuery {
    pub active_channel: Channel,
    #[arguments(options: $options)]
    pub products: ProductList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "ProductList")]
pub struct ProductList {
    pub total_items: i32,
    pub items: Vec<WholeProduct>,
}

/// A product as export and import read it.
#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "Product")]
pub struct WholeProduct {
    pub id: Id,
    pub created_at: DateTime,
    pub updated_at: DateTime,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub enabled: bool,
    pub facet_values: Vec<ProductFacetValue>,
    pub option_groups: Vec<OptionGroup>,
    pub variants: Vec<WholeVariant>,
    pub featured_asset: Option<ProductAsset>,
    pub assets: Vec<ProductAsset>,
}

/// An asset (a product's image): its name is the source URL the tool
/// uploaded it from (see `assets.rs`); `source` is where Vendure serves it.
#[derive(cynic::QueryFragment, Clone, Debug, PartialEq)]
#[cynic(graphql_type = "Asset")]
pub struct ProductAsset {
    pub id: Id,
    pub name: String,
    pub source: String,
}

// ---------------------------------------------------------------- assets

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct AssetFilterParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub name: Option<StringOperators>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct AssetSortParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub id: Option<SortOrder>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct AssetListOptions {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub skip: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub take: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub sort: Option<AssetSortParameter>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub filter: Option<AssetFilterParameter>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct AssetListVariables {
    pub options: Option<AssetListOptions>,
}

/// The assets of some names: `assets(options)`.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "AssetListVariables")]
pub struct AssetsQuery {
    #[arguments(options: $options)]
    pub assets: AssetList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "AssetList")]
pub struct AssetList {
    pub total_items: i32,
    pub items: Vec<ProductAsset>,
}

/// GraphQL multipart's placeholder for a file: `null` in `operations`, the
/// bytes in a part the `map` points at it.
#[derive(cynic::Scalar, Clone, Debug)]
#[cynic(graphql_type = "Upload")]
pub struct Upload(pub Option<String>);

#[derive(cynic::InputObject, Clone, Debug)]
pub struct AssetTranslationInput {
    pub language_code: LanguageCode,
    pub name: Option<String>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateAssetInput {
    pub file: Upload,
    pub translations: Option<Vec<AssetTranslationInput>>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateAssetsVariables {
    pub input: Vec<CreateAssetInput>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateAssetsVariables")]
pub struct CreateAssets {
    #[arguments(input: $input)]
    pub create_assets: Vec<CreateAssetResult>,
}

#[derive(cynic::InlineFragments, Debug)]
pub enum CreateAssetResult {
    Asset(CreatedAsset),
    MimeTypeError(MimeTypeError),
    #[cynic(fallback)]
    Unknown,
}

/// Only the id: Vendure 3.7.3 answers a `name` given in `translations`
/// with null (and so fails the whole reply) though it stored it.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Asset")]
pub struct CreatedAsset {
    pub id: Id,
}

#[derive(cynic::QueryFragment, Debug)]
pub struct MimeTypeError {
    pub message: String,
}

/// A facet value a product has, with the code of its facet (which says
/// whether it is a category, a tag or something the tool leaves alone).
#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "FacetValue")]
pub struct ProductFacetValue {
    pub id: Id,
    pub name: String,
    pub facet: FacetCode,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "Facet")]
pub struct FacetCode {
    pub code: String,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductOptionGroup")]
pub struct OptionGroup {
    pub id: Id,
    pub code: String,
    pub name: String,
    pub options: Vec<OptionValue>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductOption")]
pub struct OptionValue {
    pub id: Id,
    pub code: String,
    pub name: String,
    pub group_id: Id,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariant")]
pub struct WholeVariant {
    pub id: Id,
    pub created_at: DateTime,
    pub updated_at: DateTime,
    pub sku: String,
    pub name: String,
    pub enabled: bool,
    pub stock_on_hand: i32,
    pub stock_levels: Vec<StockLevel>,
    pub prices: Vec<VariantPrice>,
    pub options: Vec<OptionValue>,
}

/// A variant's stock at one stock location.
#[derive(cynic::QueryFragment, Clone, Debug)]
pub struct StockLevel {
    pub stock_location_id: Id,
    pub stock_on_hand: i32,
}

#[derive(cynic::InputObject, Clone, Debug, PartialEq)]
pub struct StockLevelInput {
    pub stock_location_id: Id,
    pub stock_on_hand: i32,
}

/// The variants that hold some SKUs, wherever they are, with their stock.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "VariantListVariables")]
pub struct SkuHolders {
    #[arguments(options: $options)]
    pub product_variants: SkuHolderList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "ProductVariantList")]
pub struct SkuHolderList {
    pub total_items: i32,
    pub items: Vec<SkuHolder>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
#[cynic(graphql_type = "ProductVariant")]
pub struct SkuHolder {
    pub id: Id,
    pub sku: String,
    pub product_id: Id,
    pub created_at: DateTime,
    /// At the default stock location (the sum over all locations, as
    /// Vendure reads it).
    pub stock_on_hand: i32,
    /// What stock export compares and reconcile reads.
    pub stock_levels: Vec<StockLevel>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct StockLocationFilterParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub id: Option<IdOperators>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct StockLocationSortParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<SortOrder>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub id: Option<SortOrder>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct StockLocationListOptions {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub take: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub sort: Option<StockLocationSortParameter>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub filter: Option<StockLocationFilterParameter>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct StockLocationsVariables {
    pub options: Option<StockLocationListOptions>,
}

/// Stock locations of the active channel: which of some ids the shop has,
/// or the oldest (Vendure's default, where `stockOnHand` goes).
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "StockLocationsVariables")]
pub struct StockLocationsQuery {
    #[arguments(options: $options)]
    pub stock_locations: StockLocationList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "StockLocationList")]
pub struct StockLocationList {
    pub items: Vec<StockLocationId>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "StockLocation")]
pub struct StockLocationId {
    pub id: Id,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct UpdateProductVariables {
    pub input: UpdateProductInput,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct UpdateProductInput {
    pub id: Id,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub translations: Option<Vec<ProductTranslationInput>>,
    /// Replaces all the product's facet values, of every facet.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub facet_value_ids: Option<Vec<Id>>,
    /// Replaces the product's assets, in order.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub asset_ids: Option<Vec<Id>>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub featured_asset_id: Option<Id>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "UpdateProductVariables")]
pub struct UpdateProduct {
    // Selected so the fragment is not empty; an error is in `errors`.
    #[allow(dead_code)]
    #[arguments(input: $input)]
    pub update_product: CreatedProduct,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct ProductOptionGroupTranslationInput {
    pub language_code: LanguageCode,
    pub name: Option<String>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateGroupOptionInput {
    pub code: String,
    pub translations: Vec<ProductOptionGroupTranslationInput>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateProductOptionGroupInput {
    pub code: String,
    pub translations: Vec<ProductOptionGroupTranslationInput>,
    pub options: Option<Vec<CreateGroupOptionInput>>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateOptionGroupVariables {
    pub input: CreateProductOptionGroupInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateOptionGroupVariables")]
pub struct CreateOptionGroup {
    #[arguments(input: $input)]
    pub create_product_option_group: OptionGroup,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct AddOptionGroupVariables {
    pub product_id: Id,
    pub option_group_id: Id,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "AddOptionGroupVariables")]
pub struct AddOptionGroup {
    // Selected so the fragment is not empty; an error is in `errors`.
    #[allow(dead_code)]
    #[arguments(productId: $product_id, optionGroupId: $option_group_id)]
    pub add_option_group_to_product: CreatedProduct,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateProductOptionInput {
    pub product_option_group_id: Id,
    pub code: String,
    pub translations: Vec<ProductOptionGroupTranslationInput>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateOptionVariables {
    pub input: CreateProductOptionInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateOptionVariables")]
pub struct CreateOption {
    #[arguments(input: $input)]
    pub create_product_option: OptionValue,
}

// ---------------------------------------------------------------- facets

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct FacetFilterParameter {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub code: Option<StringOperators>,
}

#[derive(cynic::InputObject, Clone, Debug, Default)]
pub struct FacetListOptions {
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub skip: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub take: Option<i32>,
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FacetFilterParameter>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct FacetListVariables {
    pub options: Option<FacetListOptions>,
}

/// The facets of some codes, with all their values.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "FacetListVariables")]
pub struct FacetsQuery {
    #[arguments(options: $options)]
    pub facets: FacetList,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "FacetList")]
pub struct FacetList {
    pub items: Vec<Facet>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
pub struct Facet {
    pub id: Id,
    pub code: String,
    pub values: Vec<FacetValue>,
}

#[derive(cynic::QueryFragment, Clone, Debug)]
pub struct FacetValue {
    pub id: Id,
    pub name: String,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct FacetTranslationInput {
    pub language_code: LanguageCode,
    pub name: Option<String>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateFacetInput {
    pub code: String,
    pub is_private: bool,
    pub translations: Vec<FacetTranslationInput>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateFacetVariables {
    pub input: CreateFacetInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateFacetVariables")]
pub struct CreateFacet {
    #[arguments(input: $input)]
    pub create_facet: Facet,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct FacetValueTranslationInput {
    pub language_code: LanguageCode,
    pub name: Option<String>,
}

#[derive(cynic::InputObject, Clone, Debug)]
pub struct CreateFacetValueInput {
    pub facet_id: Id,
    pub code: String,
    pub translations: Vec<FacetValueTranslationInput>,
}

#[derive(cynic::QueryVariables, Debug)]
pub struct CreateFacetValuesVariables {
    pub input: Vec<CreateFacetValueInput>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "CreateFacetValuesVariables")]
pub struct CreateFacetValues {
    #[arguments(input: $input)]
    pub create_facet_values: Vec<FacetValue>,
}
