//! Product images as Vendure assets (the shop needs the AssetServerPlugin).
//! An image goes to Vendure as an uploaded file, so the tool keeps the
//! image's source URL as the asset's name: before a batch is written, the
//! names of its images are looked up, and only a URL no asset is named
//! after is fetched and uploaded (`createAssets`, a GraphQL multipart
//! request). A re-export therefore uploads nothing, and a run cut between
//! an upload and the product write adopts the uploaded asset by its name
//! next time instead of uploading it twice; of two assets of one name, the
//! older is used.
//!
//! Vendure has no alt text on an asset: alt text is not carried.

use std::collections::{BTreeSet, HashMap};

use cynic::{MutationBuilder, QueryBuilder};

use super::client::{Replay, operation_body};
use super::export::Shop;
use super::mapping::id_order;
use super::wire::{
    AssetFilterParameter, AssetListOptions, AssetListVariables, AssetSortParameter,
    AssetTranslationInput, AssetsQuery, Channel, CreateAssetInput, CreateAssetResult, CreateAssets,
    CreateAssetsVariables, Id, ProductAsset, SortOrder, StringOperators, Upload,
};
use crate::catalog::Product;
use crate::connector::ChannelError;
use crate::connector::http::Url;

/// Names looked up per `assets` call (each a URL: the body stays small).
const NAMES_PER_LOOKUP: usize = 100;
/// Vendure's stock `adminListQueryLimit`.
const ASSETS_PER_PAGE: i32 = 1000;
/// Pages of one look-up at most: only duplicates of a name make a second.
const MAX_LOOKUP_PAGES: i32 = 20;

/// The asset of each image URL a batch needs, or why it could not be made.
#[derive(Debug, Default)]
pub struct Images {
    by_url: HashMap<String, Id>,
    failed: HashMap<String, String>,
}

impl Images {
    /// The asset ids of `product`'s images in order (the first is the
    /// featured asset), or why one could not be made.
    pub fn ids_of(&self, product: &Product) -> Result<Vec<Id>, String> {
        product
            .images
            .iter()
            .map(|image| {
                self.by_url.get(&image.url).cloned().ok_or_else(|| {
                    format!(
                        "image `{}` is not on Vendure and could not be uploaded: {}",
                        crate::output::escape(&image.url),
                        self.failed
                            .get(&image.url)
                            .map_or("no reason given", String::as_str)
                    )
                })
            })
            .collect()
    }
}

/// The image URL an asset stands for: its name when that is an http(s) URL
/// (the tool's own uploads, see the module doc), else where Vendure serves
/// its file.
pub fn image_url(asset: &ProductAsset) -> String {
    match Url::parse(&asset.name) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => asset.name.clone(),
        _ => asset.source.clone(),
    }
}

/// Finds (by name) or uploads the assets of `products`' images.
pub async fn images(
    shop: &Shop<'_>,
    channel: &Channel,
    products: &[&Product],
) -> Result<Images, ChannelError> {
    let urls: BTreeSet<&str> = products
        .iter()
        .flat_map(|p| p.images.iter().map(|i| i.url.as_str()))
        .collect();
    let mut out = Images::default();
    if urls.is_empty() {
        return Ok(out);
    }
    let urls: Vec<&str> = urls.into_iter().collect();
    for chunk in urls.chunks(NAMES_PER_LOOKUP) {
        for asset in named(shop, chunk).await? {
            let older = out
                .by_url
                .get(&asset.name)
                .is_some_and(|id| id_order(id.inner()) < id_order(asset.id.inner()));
            if !older {
                out.by_url.insert(asset.name.clone(), asset.id);
            }
        }
    }
    for url in urls {
        if out.by_url.contains_key(url) {
            continue;
        }
        match upload(shop, channel, url).await? {
            Ok(id) => {
                out.by_url.insert(url.to_string(), id);
            }
            Err(why) => {
                out.failed.insert(url.to_string(), why);
            }
        }
    }
    crate::crash::point("vendure-assets-uploaded");
    Ok(out)
}

/// The assets named one of `names`, oldest first.
async fn named(shop: &Shop<'_>, names: &[&str]) -> Result<Vec<ProductAsset>, ChannelError> {
    let mut found = Vec::new();
    for page in 0..MAX_LOOKUP_PAGES {
        let operation = AssetsQuery::build(AssetListVariables {
            options: Some(AssetListOptions {
                skip: Some(page * ASSETS_PER_PAGE),
                take: Some(ASSETS_PER_PAGE),
                sort: Some(AssetSortParameter {
                    id: Some(SortOrder::Asc),
                }),
                filter: Some(AssetFilterParameter {
                    name: Some(StringOperators {
                        in_: Some(names.iter().map(|n| n.to_string()).collect()),
                    }),
                }),
            }),
        });
        let list = shop
            .client
            .run::<AssetsQuery, _>("assets", shop.credential, &operation, Replay::Safe)
            .await?
            .assets;
        let got = list.items.len();
        found.extend(list.items);
        if got < ASSETS_PER_PAGE as usize || found.len() >= list.total_items as usize {
            break;
        }
    }
    Ok(found)
}

/// Fetches `url` and uploads it as an asset named `url`: the asset's id,
/// `Err(why)` when the image cannot be fetched or Vendure refuses it (that
/// product is refused, the batch goes on), or a channel error.
async fn upload(
    shop: &Shop<'_>,
    channel: &Channel,
    url: &str,
) -> Result<Result<Id, String>, ChannelError> {
    let parsed = match Url::parse(url) {
        Ok(u) => u,
        Err(e) => return Ok(Err(format!("not a URL ({e})"))),
    };
    let (bytes, content_type) = match shop.client.fetch_file(parsed.clone()).await {
        Ok(file) => file,
        Err(e) => return Ok(Err(format!("fetching it failed: {e}"))),
    };
    let filename = file_name(&parsed);
    let content_type = content_type
        .filter(|t| !t.is_empty() && !t.starts_with("application/octet-stream"))
        .unwrap_or_else(|| guess_type(&filename).to_string());
    let operation = CreateAssets::build(CreateAssetsVariables {
        input: vec![CreateAssetInput {
            file: Upload(None),
            translations: Some(vec![AssetTranslationInput {
                language_code: channel.default_language_code.clone(),
                name: Some(url.to_string()),
            }]),
        }],
    });
    let operations = operation_body(&operation)?;
    let (multipart_type, body) = multipart(&operations, &filename, &content_type, &bytes);
    // Not safe to resend: a lost reply may hide a made asset (the next
    // run's look-up by name finds it).
    let created = shop
        .client
        .run_multipart::<CreateAssets>(
            "createAssets",
            shop.credential,
            multipart_type,
            body,
            Replay::NotSafe,
        )
        .await;
    let created = match created {
        Ok(c) => c,
        Err(ChannelError::Refused { message, .. }) => {
            return Ok(Err(format!("Vendure refused the upload: {message}")));
        }
        Err(other) => return Err(other),
    };
    Ok(match created.create_assets.into_iter().next() {
        Some(CreateAssetResult::Asset(asset)) => Ok(asset.id),
        Some(CreateAssetResult::MimeTypeError(e)) => {
            Err(format!("Vendure refused the upload: {}", e.message))
        }
        _ => Err("Vendure answered the upload with no asset".to_string()),
    })
}

/// The file name an upload carries: the URL's last path segment in safe
/// characters (Vendure checks its extension against the content type).
fn file_name(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.rfind(|s| !s.is_empty()))
        .unwrap_or_default();
    let safe: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let safe = safe.trim_matches('.');
    if safe.is_empty() {
        "image".to_string()
    } else {
        safe.to_string()
    }
}

/// A content type from a file name's extension, for a server that sent none.
fn guess_type(file_name: &str) -> &'static str {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// A GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec)
/// of one file at `variables.input.0.file`: its content type and body.
fn multipart(
    operations: &[u8],
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = boundary(bytes);
    let mut body = Vec::with_capacity(bytes.len() + operations.len() + 512);
    let mut part = |headers: &str, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    part(
        "Content-Disposition: form-data; name=\"operations\"",
        operations,
    );
    part(
        "Content-Disposition: form-data; name=\"map\"",
        br#"{"0":["variables.input.0.file"]}"#,
    );
    // `file_name` and `content_type` hold no quote or line break: the
    // first is made of safe characters, the second came from a header.
    part(
        &format!(
            "Content-Disposition: form-data; name=\"0\"; filename=\"{file_name}\"\r\nContent-Type: {}",
            content_type.replace(['\r', '\n', '"'], "")
        ),
        bytes,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A boundary that does not occur in `bytes`.
fn boundary(bytes: &[u8]) -> String {
    loop {
        let tail: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
        let boundary = format!("oms-channels-{tail}");
        if !bytes
            .windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
        {
            return boundary;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Image;

    fn asset(id: &str, name: &str) -> ProductAsset {
        ProductAsset {
            id: Id::new(id),
            name: name.into(),
            source: format!("http://shop.example/assets/source/{id}.png"),
        }
    }

    #[test]
    fn an_asset_the_tool_uploaded_reads_as_its_source_url_else_as_where_vendure_serves_it() {
        assert_eq!(
            image_url(&asset("1", "https://img.example/tee-front.jpg")),
            "https://img.example/tee-front.jpg"
        );
        assert_eq!(
            image_url(&asset("2", "tee-front.jpg")),
            "http://shop.example/assets/source/2.png"
        );
        assert_eq!(
            image_url(&asset("3", "ftp://img.example/a.png")),
            "http://shop.example/assets/source/3.png"
        );
    }

    #[test]
    fn a_products_asset_ids_follow_its_image_order_and_name_a_missing_image() {
        let mut images = Images::default();
        images.by_url.insert("https://i/b.png".into(), Id::new("7"));
        images.by_url.insert("https://i/a.png".into(), Id::new("9"));
        let mut product = crate::catalog::test_data::shirt();
        product.images = ["https://i/a.png", "https://i/b.png"]
            .map(|url| Image {
                url: url.into(),
                alt: String::new(),
            })
            .to_vec();
        assert_eq!(
            images.ids_of(&product).unwrap(),
            vec![Id::new("9"), Id::new("7")]
        );
        images.failed.insert(
            "https://i/c.png".into(),
            "fetching it failed: HTTP 404".into(),
        );
        product.images.push(Image {
            url: "https://i/c.png".into(),
            alt: String::new(),
        });
        let why = images.ids_of(&product).unwrap_err();
        assert!(
            why.contains("`https://i/c.png`") && why.contains("HTTP 404"),
            "{why}"
        );
    }

    #[test]
    fn an_upload_is_named_by_the_urls_last_segment_in_safe_characters() {
        let name = |u: &str| file_name(&Url::parse(u).unwrap());
        assert_eq!(
            name("https://img.example/p/tee-front.jpg?w=2"),
            "tee-front.jpg"
        );
        assert_eq!(name("https://img.example/p/a%22b%0A.png"), "a-22b-0A.png");
        assert_eq!(name("https://img.example/"), "image");
        assert_eq!(name("https://img.example/p/.."), "image");
        assert_eq!(guess_type("TEE.JPG"), "image/jpeg");
        assert_eq!(guess_type("tee"), "application/octet-stream");
    }

    #[test]
    fn the_multipart_body_holds_operations_map_and_file_between_boundaries() {
        let (content_type, body) = multipart(b"{\"query\":\"q\"}", "a.png", "image/png", b"PNG");
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("a boundary");
        let text = String::from_utf8(body).unwrap();
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{{\"query\":\"q\"}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\":[\"variables.input.0.file\"]}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n\
             --{boundary}--\r\n"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn the_boundary_never_occurs_in_the_file() {
        for _ in 0..50 {
            let b = boundary(b"--oms-channels-");
            assert!(b.starts_with("oms-channels-") && b.len() == 13 + 24);
        }
    }
}
