//! A huge value that does not match its type: the warning quotes a bounded prefix of it (in its
//! message and in the WARN log line), keeps it whole in `value`, and decoding a 10 MB body with
//! one such field takes about one more copy of the body, not ten. In a process of its own: it
//! counts every allocation, and installs the `tracing` subscriber.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use miro_api::decode::{DecodeWarningKind, QUOTE_LIMIT};
use miro_api::types::GenericItemCursorPaged;
use serde_json::json;

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_huge_mismatched_value_is_quoted_briefly_and_costs_one_copy() {
    let captured = miro_tests::log_capture::Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // A page of one sticky note whose geometry width (a number) is a 10 MB string.
    let huge = "w".repeat(10 * 1024 * 1024);
    let body = json!({
        "data": [{"id": "1", "type": "sticky_note", "geometry": {"width": huge, "height": 2.0}}],
        "type": "cursor-list"
    })
    .to_string()
    .into_bytes();
    drop(huge);

    let before = IN_USE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let (page, warnings) =
        miro_api::decode::from_slice::<GenericItemCursorPaged>(&body, false).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - before;

    assert_eq!(page.data.len(), 1);
    assert_eq!(warnings.len(), 1);
    let w = &warnings[0];
    assert_eq!(w.path, "data[0].geometry.width");
    assert_eq!(w.kind, DecodeWarningKind::FieldAbsent);
    assert_eq!(w.value.as_str().map(str::len), Some(10 * 1024 * 1024));
    assert!(
        w.message.len() <= 2 * QUOTE_LIMIT + 100,
        "{} bytes of message",
        w.message.len()
    );
    assert!(w.message.contains("10485760 bytes"), "{}", w.message);
    assert!(w.to_string().len() <= 2 * QUOTE_LIMIT + 200);

    let log = captured.text();
    assert!(log.contains("data[0].geometry.width"), "{log}");
    assert!(log.len() < 2_000, "a log line of {} bytes", log.len());

    // The tree read from the body (one copy, the value then moved into the warning), and for a
    // moment the first attempt's error, whose message serde_json writes with the whole value.
    let ratio = peak as f64 / body.len() as f64;
    eprintln!(
        "decoding a {} byte body with one such field: peak {} bytes above the body ({ratio:.2}x)",
        body.len(),
        peak
    );
    assert!(
        ratio < 4.0,
        "peak {peak} bytes for a {} byte body",
        body.len()
    );
}
