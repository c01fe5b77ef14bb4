fn main() {
    let bytes = std::fs::read("../shared/openapi/miro-openapi-3a2506b6.json").unwrap();
    let (fixed, report) = miro_api_gen::fixed_spec(&bytes).unwrap();
    eprintln!("{report:?}");
    let t = std::time::Instant::now();
    let tokens = miro_api_gen::progenitor_tokens(&fixed).unwrap();
    eprintln!("progenitor {:?}", t.elapsed());
    let file: syn::File = syn::parse2(tokens).unwrap();
    std::fs::write("/tmp/raw.rs", prettyplease::unparse(&file)).unwrap();
}
