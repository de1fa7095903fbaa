//! Registers Vendure's Admin API schema (committed SDL) with cynic, so every
//! Vendure query and mutation is checked against it at build time.

fn main() {
    const SCHEMA: &str = "src/connector/vendure/schema.graphql";
    println!("cargo::rerun-if-changed={SCHEMA}");
    cynic_codegen::register_schema("vendure")
        .from_sdl_file(SCHEMA)
        .expect("src/connector/vendure/schema.graphql is valid GraphQL SDL")
        .as_default()
        .expect("register the Vendure schema as cynic's default");
}
