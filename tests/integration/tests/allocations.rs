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
