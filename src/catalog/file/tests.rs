use std::collections::HashMap;

use super::*;
use crate::catalog::test_data::shirt;
use crate::catalog::{FlatProduct, Product};

const LOADED_AT: &str = "2026-06-01T00:00:00Z";

/// Reads a whole file as `products load` does, finding SKUs and handles
/// given twice (the store does that in a scratch table).
fn parse(text: &str, format: Format) -> Result<Vec<LoadItem>, ProductFileError> {
    let mut skus = HashMap::new();
    let mut handles = HashMap::new();
    let mut out = Vec::new();
    for item in read_products(text.as_bytes(), format, LOADED_AT)? {
        let item = item?;
        for (variant, line) in item.product.variants.iter().zip(&item.variant_lines) {
            if let Some(first) = skus.insert(variant.sku.clone(), *line) {
                return Err(at(
                    *line,
                    format!(
                        "sku `{}` appears twice in the file (first on line {first})",
                        variant.sku
                    ),
                ));
            }
        }
        if let Some(first) = handles.insert(item.product.handle.clone(), item.line) {
            return Err(at(
                item.line,
                format!(
                    "handle `{}` appears twice (first on line {first})",
                    item.product.handle
                ),
            ));
        }
        out.push(item);
    }
    Ok(out)
}

fn products(text: &str, format: Format) -> Vec<Product> {
    parse(text, format)
        .unwrap()
        .into_iter()
        .map(|i| i.product)
        .collect()
}

fn flat(item: &LoadItem) -> FlatProduct {
    item.product.as_flat().unwrap()
}

fn assert_refused(text: &str, format: Format, expected: &str) {
    let err = parse(text, format)
        .map(|_| ())
        .expect_err(expected)
        .to_string();
    assert!(
        err.starts_with(expected) || err.contains(expected),
        "expected `{expected}`, got `{err}`"
    );
    assert!(!err.chars().any(char::is_control), "{err:?}");
}

#[test]
fn flat_jsonl_loads_and_rejects_with_line_numbers() {
    let good = r#"{"sku":"A","title":"t","price":"19.90","currency":"EUR","quantity":1,"updated_at":"2026-01-01T00:00:00Z","attributes":{"color":"red"}}

{"sku":"B","title":"u","price":"0.05","currency":"EUR","quantity":0,"updated_at":"2026-01-01T00:00:00+01:00"}"#;
    let items = parse(good, Format::JsonLines).unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[0].flat);
    assert_eq!(flat(&items[0]).price.to_string(), "19.90 EUR");
    assert_eq!(items[1].line, 3);
    assert_eq!(items[1].product.handle, crate::catalog::derive_handle("B"));
    let cases = [
        (good.replace("\"19.90\"", "19.90"), "line 1:"),
        (
            good.replace("\"0.05\"", "\"0,05\""),
            "line 3: sku `B`: price `0,05` is not a decimal number",
        ),
        (
            good.replace("\"0.05\"", "\"-1.00\""),
            "line 3: sku `B`: price `-1.00` is negative: a price is 0 or more",
        ),
        (
            good.replace(
                "\"0.05\",\"currency\":\"EUR\"",
                "\"0.001\",\"currency\":\"USD\"",
            ),
            "line 3: sku `B`: price `0.001` has more decimals than USD allows: at most 2 decimals (ISO 4217)",
        ),
        (
            good.replace(
                "\"0.05\",\"currency\":\"EUR\"",
                "\"1500.5\",\"currency\":\"JPY\"",
            ),
            "line 3: sku `B`: price `1500.5` has more decimals than JPY allows: no decimals (ISO 4217)",
        ),
        (
            good.replace(
                "\"0.05\",\"currency\":\"EUR\"",
                "\"1\",\"currency\":\"XTS\"",
            ),
            "line 3: sku `B`: currency `XTS` is a special code",
        ),
        (
            good.replace("\"title\":\"u\"", "\"title\":\"u\\u001b]0;owned\\u0007\""),
            "line 3: sku `B`: title `u\\u{1b}]0;owned\\u{7}` has control character U+001B at character 2",
        ),
        (
            good.replace(
                "\"title\":\"u\"",
                &format!("\"title\":\"{}\"", "x".repeat(256)),
            ),
            "line 3: sku `B`: title `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...` is 256 characters long: at most 255",
        ),
        (
            good.replace("\"red\"", "\"r\\ned\""),
            "line 1: sku `A`: attribute `color` `r\\ned` has control character U+000A",
        ),
        (
            good.replace("\"quantity\":1", "\"quantity\":1.5"),
            "line 1: quantity 1.5 is not a whole number of units",
        ),
        (
            good.replace("\"B\"", "\"A\""),
            "line 3: sku `A` appears twice",
        ),
        (
            good.replace("\"EUR\",\"quantity\":0", "\"euro\",\"quantity\":0"),
            "line 3: sku `B`: unknown currency `euro`: expected an ISO 4217 code in capitals, such as `EUR`",
        ),
        (
            good.replace("2026-01-01T00:00:00+01:00", "yesterday"),
            "line 3: sku `B`: invalid updated_at: `yesterday` is not an RFC 3339 timestamp",
        ),
        (
            good.replace("\"quantity\":1", "\"quantity\":-1"),
            "line 1: sku `A`: invalid quantity",
        ),
        (format!("{good}\nnot json"), "line 4:"),
        (
            good.replace("\"title\":\"t\"", "\"title\":\"t\",\"colour\":\"x\""),
            "unknown field `colour`",
        ),
        (
            good.replace(",\"quantity\":0", ""),
            "line 3: missing field `quantity`",
        ),
        (
            good.replace("\"sku\":\"A\"", "\"sku\":\" A\""),
            "line 1: invalid sku ` A`: leading white space",
        ),
        (
            good.replace("\"sku\":\"B\",", "\"sku\":\"B\",\"description\":\"d\","),
            "line 3: `description` belongs to a product with `variants`",
        ),
    ];
    for (text, expected) in cases {
        assert_refused(&text, Format::JsonLines, expected);
    }
}

#[test]
fn updated_at_defaults_to_the_load_time() {
    let jsonl = "\u{feff}{\"sku\":\"A\",\"title\":\"t\",\"price\":\"1\",\"currency\":\"EUR\",\"quantity\":1}\r\n";
    assert_eq!(products(jsonl, Format::JsonLines)[0].updated_at, LOADED_AT);
    let csv = "\u{feff}sku,title,price,currency,quantity\r\nA,t,1,EUR,1\r\n";
    let items = parse(csv, Format::Csv).unwrap();
    assert_eq!(flat(&items[0]).sku, "A");
    assert_eq!(items[0].product.updated_at, LOADED_AT);
    let csv = "sku,title,price,currency,quantity,updated_at\nA,t,1,EUR,1,\nB,t,1,EUR,1,2026-01-01T00:00:00Z\n";
    let loaded = products(csv, Format::Csv);
    assert_eq!(loaded[0].updated_at, LOADED_AT);
    assert_eq!(loaded[1].updated_at, "2026-01-01T00:00:00Z");
    let nested = r#"{"handle":"h","title":"t","variants":[{"sku":"A"}]}"#;
    assert_eq!(products(nested, Format::JsonLines)[0].updated_at, LOADED_AT);
}

#[test]
fn flat_csv_loads_attributes_and_rejects_with_line_numbers() {
    let good = "sku,title,price,currency,quantity,updated_at,attr.color,id\nA,\"Shirt, red\",19.90,EUR,3,2026-01-01T00:00:00Z,red,\nB,Mug,0.05,EUR,0,2026-01-01T00:00:00Z,,m-1\n";
    let items = parse(good, Format::Csv).unwrap();
    assert_eq!(flat(&items[0]).title, "Shirt, red");
    assert_eq!(items[0].product.attributes["color"], "red");
    assert!(items[1].product.attributes.is_empty());
    assert_eq!(flat(&items[1]).id.as_deref(), Some("m-1"));
    assert_eq!(flat(&items[0]).quantity, 3);
    let cases = [
        (
            good.replace("0.05", "1e3"),
            "line 3: sku `B`: price `1e3` is not a decimal number",
        ),
        (
            good.replace("0.05", "-0.05"),
            "line 3: sku `B`: price `-0.05` is negative",
        ),
        (
            good.replace("Mug", "Mug\u{1b}[2J"),
            "line 3: sku `B`: title `Mug\\u{1b}[2J` has control character U+001B",
        ),
        (
            good.replace(",id\n", ",attr.co\u{1b}l\n"),
            "line 3: sku `B`: attribute name `co\\u{1b}l` has control character U+001B",
        ),
        (
            good.replace(",id\n", ",na\u{7}me\n"),
            "line 1: unknown column `na\\u{7}me`",
        ),
        (good.replace(",3,", ",three,"), "line 2: quantity `three`"),
        (
            good.replace("sku,title", "sku,name"),
            "line 1: unknown column `name`",
        ),
        (
            good.replace("sku,title,", "sku,"),
            "line 1: missing column `title`",
        ),
        (
            good.replace(",id\n", ",price\n"),
            "line 1: column `price` appears twice in the header (columns 3 and 8)",
        ),
        (
            good.replace("B,Mug", "A,Mug"),
            "line 3: sku `A` appears twice",
        ),
        (
            good.replace("B,Mug", "B ,Mug"),
            "line 3: invalid sku `B `: trailing white space",
        ),
        (format!("{good}C,x\n"), "line 4:"),
    ];
    for (text, expected) in cases {
        assert_refused(&text, Format::Csv, expected);
    }
}

/// The shirt of `test_data` as one JSON line.
fn shirt_line() -> String {
    r#"{"handle":"tshirt","title":"T-Shirt","description":"<p>Soft cotton.</p>\n","categories":["Clothing > Shirts"],"tags":["summer","cotton"],"images":[{"url":"https://cdn.example/ts.jpg","alt":"Front"}],"options":["Size"],"attributes":{"brand":"Acme"},"updated_at":"2026-01-01T00:00:00Z","variants":[{"sku":"TS-S","option_values":["S"],"prices":{"EUR":"19.90"},"stock":{"default":5}},{"sku":"TS-M","option_values":["M"],"prices":{"EUR":"19.9"},"stock":{"default":5}},{"sku":"TS-L","option_values":["L"],"prices":{"EUR":"21"},"stock":{"default":5}}]}"#.to_string()
}

#[test]
fn nested_jsonl_loads_whole_products_and_names_bad_values() {
    let items = parse(&shirt_line(), Format::JsonLines).unwrap();
    assert_eq!(items[0].product, shirt());
    assert!(!items[0].flat);
    assert_eq!(items[0].variant_lines, [1, 1, 1]);
    // Flat and nested lines mix.
    let mixed = format!(
        "{}\n{{\"sku\":\"MUG\",\"title\":\"Mug\",\"price\":\"5\",\"currency\":\"EUR\",\"quantity\":2}}\n",
        shirt_line()
    );
    assert_eq!(products(&mixed, Format::JsonLines).len(), 2);
    let line = shirt_line();
    let cases = [
        (
            line.replace("\"handle\":\"tshirt\",", ""),
            "line 1: missing field `handle`",
        ),
        (
            line.replace("\"tshirt\"", "\"T Shirt\""),
            "line 1: product `T Shirt`: invalid handle `T Shirt`",
        ),
        (
            line.replace("\"21\"", "\"-21\""),
            "line 1: product `tshirt`: variant `TS-L`: price `-21` is negative",
        ),
        (
            line.replace("\"EUR\":\"21\"", "\"EURO\":\"21\""),
            "line 1: product `tshirt`: variant `TS-L`: unknown currency `EURO`",
        ),
        (
            line.replace("\"option_values\":[\"L\"]", "\"option_values\":[]"),
            "line 1: product `tshirt`: variant `TS-L`: 0 option values for 1 options (Size)",
        ),
        (
            line.replace("\"option_values\":[\"L\"]", "\"option_values\":[\"S\"]"),
            "line 1: product `tshirt`: variant `TS-L`: option values (S) are also those of variant `TS-S`",
        ),
        (
            line.replace("\"sku\":\"TS-L\"", "\"sku\":\"TS-S\""),
            "line 1: product `tshirt`: sku `TS-S` appears twice",
        ),
        (
            line.replace("{\"default\":5}}]", "{\"default\":-5}}]"),
            "line 1: product `tshirt`: variant `TS-L`: stock at `default` is -5: stock is 0 or more",
        ),
        (
            line.replace("\"variants\":[", "\"sku\":\"X\",\"variants\":["),
            "line 1: a product with `variants` has no `sku` of its own",
        ),
        (
            line.replace("\"sku\":\"TS-S\",", "\"sku\":\"TS-S\",\"colour\":\"red\","),
            "unknown field `colour`",
        ),
        (
            line.replace("[{\"sku\":\"TS-S\"", "[{\"sku\":\"\""),
            "line 1: product `tshirt`: empty `sku`",
        ),
        (
            line.replace("\"variants\":[", "\"status\":\"live\",\"variants\":["),
            "unknown status `live`",
        ),
        (
            line.replace("https://cdn.example/ts.jpg", "ts.jpg"),
            "line 1: product `tshirt`: image `ts.jpg`: not a URL",
        ),
        (
            line.replace(",\"variants\":[{", ",\"variants\":[],\"x\":[{"),
            "unknown field `x`",
        ),
        (
            format!("{line}\n{line}"),
            "line 2: sku `TS-S` appears twice in the file (first on line 1)",
        ),
    ];
    for (text, expected) in cases {
        assert_refused(&text, Format::JsonLines, expected);
    }
}

const SHIRT_CSV: &str = "\
handle,sku,title,description,option.Size,price.EUR,price.USD,stock.default,stock.berlin,image.1,image.1.alt,image.2,category.1,tag.1,tag.2,attr.brand,variant.attr.fit
tshirt,TS-S,T-Shirt,Soft,S,19.90,21.00,5,,https://cdn.example/a.jpg,Front,https://cdn.example/b.jpg,Clothing > Shirts,summer,cotton,Acme,slim
tshirt,TS-M,,,M,19.90,,5,2,,,,,,,,
tshirt,TS-L,T-Shirt,Soft,L,21,,0,,https://cdn.example/a.jpg,,,,,,Acme,
mug,MUG,Mug,,,5,,1,,,,,,,,,
";

#[test]
fn nested_csv_reads_a_row_per_variant() {
    let items = parse(SHIRT_CSV, Format::Csv).unwrap();
    assert_eq!(items.len(), 2);
    let shirt = &items[0].product;
    assert_eq!(items[0].line, 2);
    assert_eq!(items[0].variant_lines, [2, 3, 4]);
    assert_eq!(shirt.options, ["Size"]);
    assert_eq!(shirt.description, "Soft");
    assert_eq!(shirt.images.len(), 2);
    assert_eq!(shirt.images[0].alt, "Front");
    assert_eq!(shirt.images[1].url, "https://cdn.example/b.jpg");
    assert_eq!(shirt.categories, ["Clothing > Shirts"]);
    assert_eq!(shirt.tags, ["summer", "cotton"]);
    assert_eq!(shirt.attributes["brand"], "Acme");
    let s = &shirt.variants[0];
    assert_eq!(s.option_values, ["S"]);
    assert_eq!(s.prices.len(), 2);
    assert_eq!(s.attributes["fit"], "slim");
    assert_eq!(shirt.variants[1].stock.get("berlin"), Some(&2));
    assert_eq!(shirt.variants[1].prices.len(), 1);
    let mug = &items[1].product;
    assert!(mug.options.is_empty());
    assert_eq!(mug.variants[0].stock["default"], 1);
    assert_eq!(items[1].line, 5);

    let cases = [
        (
            SHIRT_CSV.replace("tshirt,TS-M,,,M", "tshirt,TS-M,Tee,,M"),
            "line 3: product `tshirt`: column `title` says `Tee`, but the product's first row (line 2) says `T-Shirt`",
        ),
        (
            SHIRT_CSV.replace("tshirt,TS-M,,,M,", "tshirt,TS-M,,,,"),
            "line 3: product `tshirt`: variant `TS-M` has no value for option `Size`",
        ),
        (SHIRT_CSV.replace("mug,MUG,Mug,,,", "mug,MUG,Mug,,One,"), ""),
        (
            SHIRT_CSV.replace(",21,,0,", ",-21,,0,"),
            "line 4: product `tshirt`: variant `TS-L`: price `-21` is negative",
        ),
        (
            SHIRT_CSV.replace(",21,,0,", ",21,,zero,"),
            "line 4: `stock.default` `zero` is not a whole number",
        ),
        (
            SHIRT_CSV.replace(",21,,0,", ",21,,-1,"),
            "line 4: product `tshirt`: variant `TS-L`: stock at `default` is -1",
        ),
        (
            SHIRT_CSV.replace("price.USD", "price.EURO"),
            "line 1: column `price.EURO`: unknown currency `EURO`",
        ),
        (
            SHIRT_CSV.replace("tag.2", "tag.0"),
            "line 1: column `tag.0`: number the column from 1",
        ),
        (
            SHIRT_CSV.replace("tag.2", "colour"),
            "line 1: unknown column `colour`",
        ),
        (
            SHIRT_CSV.replace("stock.berlin", "price"),
            "line 1: unknown column `price`",
        ),
        (
            SHIRT_CSV.replace(",image.2,", ",image.3.alt,"),
            "line 1: column `image.3.alt` has no `image.3` column beside it",
        ),
        (
            SHIRT_CSV.replace("handle,sku,title", "handle,sku,name"),
            "line 1: unknown column `name`",
        ),
        (
            SHIRT_CSV.replace("mug,MUG", ",MUG"),
            "line 5: empty `handle`",
        ),
        (
            SHIRT_CSV.replace("mug,MUG", "mug,TS-S"),
            "line 5: sku `TS-S` appears twice in the file (first on line 2)",
        ),
        (
            format!("{SHIRT_CSV}tshirt,TS-XL,,,XL,22,,1,,,,,,,,,\n"),
            "line 6: handle `tshirt` appears twice (first on line 2)",
        ),
        (
            SHIRT_CSV.replace("Front", "Fr\u{1b}ont"),
            "line 2: product `tshirt`: image alt text `Fr\\u{1b}ont`",
        ),
    ];
    for (text, expected) in cases {
        if expected.is_empty() {
            // A mug with an option of its own on its only row is fine.
            assert_eq!(products(&text, Format::Csv)[1].options, ["Size"]);
            continue;
        }
        assert_refused(&text, Format::Csv, expected);
    }
}
