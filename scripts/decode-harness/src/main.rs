//! Decodes one page's bytes N times with the `miro-api` it is built against (see
//! `scripts/decode-instructions.sh`): as `serde_json::from_slice` (`slice`), or, built with the
//! `client` feature (a `miro-api` that has `decode::from_slice`), as the client decodes a
//! response (`client`). Prints the mean ns per item; under callgrind, the instructions count.
//!
//! `decode-harness PAGE.json ITERATIONS [slice|client]`

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a page file");
    let iters: u64 = args.next().expect("a count").parse().expect("a number");
    let way = args.next().unwrap_or_else(|| "slice".into());
    let bytes = std::fs::read(&path).expect("the page");
    let items = decode(&bytes, &way).data.len();
    let start = std::time::Instant::now();
    for _ in 0..iters {
        std::hint::black_box(decode(std::hint::black_box(&bytes), &way));
    }
    let per_item = start.elapsed().as_nanos() as f64 / (iters.max(1) * items as u64) as f64;
    println!("{per_item:.0} ns per item ({items} items, {way})");
}

fn decode(bytes: &[u8], way: &str) -> miro_api::types::GenericItemCursorPaged {
    match way {
        "slice" => serde_json::from_slice(bytes).expect("a page"),
        #[cfg(feature = "client")]
        "client" => miro_api::decode::with_page_size(Some(50), || {
            miro_api::decode::from_slice(bytes, false).expect("a page").0
        }),
        other => panic!("no way {other} in this build"),
    }
}
