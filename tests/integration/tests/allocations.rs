//! What decoding allocates, counted by a global allocator (per thread, so that other tests'
//! threads do not count): a known value of an open enum allocates nothing, an unknown one only
//! the string it keeps.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use miro_api::types::{FillColor, StickyNoteDataShape, StickyNoteStyle};
use serde::de::DeserializeOwned;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Decodes `json` as `T`; returns the value and how many allocations decoding made.
fn counted<T: DeserializeOwned>(json: &str) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let value = serde_json::from_str::<T>(json).unwrap();
    (value, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn known_open_enum_values_decode_without_allocating() {
    let (shape, n) = counted::<StickyNoteDataShape>(r#""square""#);
    assert_eq!(shape, StickyNoteDataShape::Square);
    assert_eq!(n, 0, "a known value");
    let (shape, n) = counted::<StickyNoteDataShape>(r#""hexagon""#);
    assert_eq!(shape, StickyNoteDataShape::UnknownValue("hexagon".into()));
    assert_eq!(n, 1, "an unknown value keeps its string");
    // Re-sent as it came.
    assert_eq!(serde_json::to_string(&shape).unwrap(), r#""hexagon""#);

    let (style, n) = counted::<StickyNoteStyle>(
        r#"{"fillColor":"light_yellow","textAlign":"center","textAlignVertical":"top"}"#,
    );
    assert_eq!(style.fill_color, Some(FillColor::LightYellow));
    assert_eq!(n, 0, "a style of known values");
}

#[tokio::test]
async fn a_page_list_is_allocated_once_at_the_page_size_asked_for() {
    use miro_tests::scripted::{Answer, ScriptedServer};
    let items: Vec<_> = (0..3)
        .map(|i| serde_json::json!({"id": i.to_string(), "type": "text", "data": {"content": "t"}}))
        .collect();
    let body = serde_json::json!({"data": items, "cursor": "", "limit": 50, "type": "cursor-list"});
    let server =
        ScriptedServer::start(move |_, _| Answer::new(200, "application/json", body.to_string()))
            .await;
    let api = miro_api::MiroApi::builder()
        .base_url(server.base_url())
        .access_token("t")
        .pacing(false)
        .build();
    let page = api.get_items("b").limit(50).await.unwrap();
    assert_eq!((page.data.len(), page.data.capacity()), (3, 50));
    let page = api.get_items("b").limit(10).await.unwrap();
    assert_eq!(page.data.capacity(), 10);
    // A limit past the operation's largest page reserves that page only.
    let page = api.get_items("b").limit(5000).await.unwrap();
    assert_eq!(page.data.capacity(), 50);
    // Without a limit, the list grows as it fills.
    let page = api.get_items("b").await.unwrap();
    assert!(page.data.capacity() < 10, "{}", page.data.capacity());
}
