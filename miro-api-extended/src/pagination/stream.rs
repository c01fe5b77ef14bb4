//! [`PageStream`]: the items of a paginated operation, one page at a time.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::future::BoxFuture;
use futures::stream::FusedStream;
use futures::{FutureExt, Stream};
use miro_api::decode::DecodeWarningKind;
use miro_api::operations::{Operation, Pagination};
use miro_api::{DecodeWarning, MiroApi};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::PaginationError;

/// Where a page stream stands: the first item it has not yielded yet.
///
/// Serializable, so that a long walk can be persisted and resumed later with
/// [`PageStream::resume_from`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Position {
    /// A cursor-paged list: the page named by `cursor` (`None`: the first page), of which the
    /// first `skip` items were already yielded.
    Cursor {
        /// The page's cursor, as Miro gave it.
        cursor: Option<String>,
        /// Items of that page already yielded.
        skip: usize,
    },
    /// An offset-paged list: the index of the next item.
    Offset {
        /// Index of the next item in the whole list.
        offset: u64,
    },
}

impl Position {
    /// The start of a cursor-paged list.
    pub fn first_cursor_page() -> Self {
        Position::Cursor {
            cursor: None,
            skip: 0,
        }
    }

    /// The page a cursor names, from its first item.
    pub fn cursor(cursor: impl Into<String>) -> Self {
        Position::Cursor {
            cursor: Some(cursor.into()),
            skip: 0,
        }
    }

    /// The item at `offset` of an offset-paged list.
    pub fn offset(offset: u64) -> Self {
        Position::Offset { offset }
    }

    /// Where a walk of `op` starts; `None` for an operation that does not page.
    pub fn start_of(op: &Operation) -> Option<Self> {
        match op.pagination {
            Pagination::Cursor => Some(Position::first_cursor_page()),
            Pagination::Offset => Some(Position::offset(0)),
            _ => None,
        }
    }

    fn kind(&self) -> Pagination {
        match self {
            Position::Cursor { .. } => Pagination::Cursor,
            Position::Offset { .. } => Pagination::Offset,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Cursor { cursor: None, .. } => write!(f, "the first page")?,
            Position::Cursor {
                cursor: Some(c),
                skip: _,
            } => write!(f, "cursor {c:?}")?,
            Position::Offset { offset } => return write!(f, "offset {offset}"),
        }
        match self {
            Position::Cursor { skip, .. } if *skip > 0 => write!(f, " (after its first {skip})"),
            _ => Ok(()),
        }
    }
}

/// The page sizes `op` accepts, smallest and largest (`None`: no stated largest). Page streams
/// clamp their page size into them.
pub fn page_size_bounds(op: &Operation) -> (u32, Option<u32>) {
    // The operations table states both where the spec does (Miro answers 400 outside them).
    let min = op.min_page_size.unwrap_or(1).max(1);
    (min, op.max_page_size.map(|max| max.max(min)))
}

/// A page to request.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PageAt {
    Cursor(Option<String>),
    Offset(u64),
}

/// One page as Miro sends it: an object with `data` and the paging fields, or a bare array (as
/// some operations answer for a filtered search).
struct RawPage<T> {
    data: Vec<T>,
    cursor: Option<String>,
    total: Option<i64>,
    limit: Option<i64>,
    /// The indexes (in the page as received) of the items left out because they did not
    /// decode, in order.
    dropped: Vec<usize>,
    /// What decoding left out of the page.
    warnings: Vec<DecodeWarning>,
}

impl<T> RawPage<T> {
    /// How many items the page had as received.
    fn received(&self) -> usize {
        self.data.len() + self.dropped.len()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for RawPage<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PageVisitor<T>(PhantomData<T>);

        /// `cursor` as a string or a number; null and "" mean none.
        struct CursorValue(Option<String>);
        impl<'de> Deserialize<'de> for CursorValue {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(CursorValue(match serde_json::Value::deserialize(d)? {
                    serde_json::Value::String(s) if !s.is_empty() => Some(s),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }))
            }
        }

        /// The page's items, allocated once at the page size the request asked for.
        struct PageData<T>(Vec<T>);
        impl<'de, T: Deserialize<'de>> Deserialize<'de> for PageData<T> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                miro_api::runtime::page_list(d).map(PageData)
            }
        }

        impl<'de, T: Deserialize<'de>> Visitor<'de> for PageVisitor<T> {
            type Value = RawPage<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a page object with `data`, or an array of items")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut data = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    data.push(item);
                }
                Ok(RawPage {
                    data,
                    cursor: None,
                    total: None,
                    limit: None,
                    dropped: Vec::new(),
                    warnings: Vec::new(),
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut data = None;
                let mut cursor = None;
                let mut total = None;
                let mut limit = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "data" => data = Some(map.next_value::<PageData<T>>()?.0),
                        "cursor" => cursor = map.next_value::<CursorValue>()?.0,
                        "total" => total = map.next_value::<Option<i64>>()?,
                        "limit" => limit = map.next_value::<Option<i64>>()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let data = data.ok_or_else(|| serde::de::Error::missing_field("data"))?;
                Ok(RawPage {
                    data,
                    cursor,
                    total,
                    limit,
                    dropped: Vec::new(),
                    warnings: Vec::new(),
                })
            }
        }

        d.deserialize_any(PageVisitor(PhantomData))
    }
}

type PageResult<T> = Result<RawPage<T>, miro_api::Error>;

/// What one page request needs; cheap to clone into a task.
#[derive(Clone)]
struct Request {
    api: MiroApi,
    op: &'static Operation,
    path_args: Arc<[String]>,
    filters: Vec<(&'static str, String)>,
    page_size: Option<u32>,
}

impl Request {
    fn sends_limit(&self) -> Option<u32> {
        self.page_size
            .filter(|_| self.op.query_params.contains(&"limit"))
    }

    fn fetch<T: DeserializeOwned + Send + 'static>(
        &self,
        at: &PageAt,
    ) -> impl Future<Output = PageResult<T>> + Send + 'static {
        let req = self.clone();
        let mut query = req.filters.clone();
        if let Some(limit) = req.sends_limit() {
            query.push(("limit", limit.to_string()));
        }
        match at {
            PageAt::Cursor(Some(c)) => query.push(("cursor", c.clone())),
            PageAt::Cursor(None) => {}
            PageAt::Offset(o) => query.push(("offset", o.to_string())),
        }
        async move {
            let args: Vec<&str> = req.path_args.iter().map(String::as_str).collect();
            let response = req
                .api
                .call_operation::<RawPage<T>>(req.op, &args, &query, None)
                .await?;
            let warnings = response.decode_warnings().to_vec();
            let mut page = response.into_inner();
            // Items of the page's own list that were left out (not those of lists inside
            // items): `data[i]`, or `[i]` for a bare array.
            page.dropped = warnings
                .iter()
                .filter_map(|w| match w.kind {
                    DecodeWarningKind::ItemDropped { index }
                        if w.path == format!("data[{index}]") || w.path == format!("[{index}]") =>
                    {
                        Some(index)
                    }
                    _ => None,
                })
                .collect();
            page.dropped.sort_unstable();
            page.warnings = warnings;
            Ok(page)
        }
    }
}

/// A page request under way. A prefetched page is a tokio task when a runtime is there (so it
/// loads while the caller works through the current one); a page awaited now, or any page
/// without a runtime, is a future polled by the stream itself.
enum InFlight<T> {
    Task(tokio::task::JoinHandle<PageResult<T>>),
    Local(BoxFuture<'static, PageResult<T>>),
}

impl<T: Send + 'static> InFlight<T> {
    fn start(fut: impl Future<Output = PageResult<T>> + Send + 'static) -> Self {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => InFlight::Task(handle.spawn(fut)),
            Err(_) => InFlight::Local(fut.boxed()),
        }
    }

    /// `None` when the task ended without an answer.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<PageResult<T>>> {
        match self {
            InFlight::Task(handle) => Pin::new(handle).poll(cx).map(Result::ok),
            InFlight::Local(fut) => fut.as_mut().poll(cx).map(Some),
        }
    }
}

impl<T> Drop for InFlight<T> {
    fn drop(&mut self) {
        if let InFlight::Task(handle) = self {
            handle.abort();
        }
    }
}

/// Brent's cycle detection over the cursors seen, in constant memory.
#[derive(Debug, Default)]
struct CycleCheck {
    saved: Option<String>,
    power: u64,
    steps: u64,
}

impl CycleCheck {
    /// Whether `cursor` closes a cycle of the cursors given so far.
    fn repeats(&mut self, cursor: &str) -> bool {
        if self.saved.as_deref() == Some(cursor) {
            return true;
        }
        self.steps += 1;
        if self.steps >= self.power.max(1) {
            self.saved = Some(cursor.to_owned());
            self.power = self.power.max(1) * 2;
            self.steps = 0;
        }
        false
    }
}

enum Next {
    Page(PageAt),
    Failed(PaginationError),
    Done,
}

/// The items of a paginated operation, as a [`Stream`] of `Result<T, PaginationError>`.
///
/// Lazy: nothing is requested until the stream is polled. At most two pages are held: the one
/// being yielded and, when [prefetching](Self::prefetch) (the default), the next one, requested
/// in a background task as soon as the current page arrives. Pages are as large as the spec
/// allows unless [`page_size`](Self::page_size) says otherwise.
///
/// The stream ends after the last page (no cursor, or `offset + size >= total`) or an empty
/// page. A cursor that was already followed ends it with [`PaginationError::RepeatedCursor`]
/// rather than looping. A page that fails is yielded as [`PaginationError::Page`]; the stream
/// then yields nothing more until [`resume`](Self::resume), which asks for that page again.
/// [`position`](Self::position) tells where it stands at any time.
///
/// Settings (`query`, `page_size`, `prefetch`, `resume_from`) are meant to be chained before
/// the first poll; set later, they apply from the next page request.
///
/// An item that does not decode is left out of its page, as the client's tolerant decoding
/// does (see [`miro_api::decode`]), and never silently: it is logged, counted by
/// [`dropped_items`](Self::dropped_items) and kept, raw, in
/// [`take_decode_warnings`](Self::take_decode_warnings); the walk goes on with the page's other
/// items and the next page (an offset walk counts the item as received). With
/// [`strict_decoding`](miro_api::MiroApiBuilder::strict_decoding) such a page fails the stream
/// with [`PaginationError::Page`] instead.
pub struct PageStream<T> {
    req: Request,
    prefetch: bool,
    problem: Option<PaginationError>,
    buffer: VecDeque<T>,
    buffer_at: PageAt,
    /// The indexes (as received) of the items of the buffered page that were left out.
    buffer_dropped: Vec<usize>,
    taken: usize,
    skip: usize,
    next: Next,
    inflight: Option<InFlight<T>>,
    halted: bool,
    cycle: CycleCheck,
    pages: u64,
    warnings: Vec<DecodeWarning>,
    dropped_items: u64,
}

/// The most decode warnings a [`PageStream`] keeps until they are taken with
/// [`PageStream::take_decode_warnings`]; later ones are only logged.
pub const MAX_KEPT_WARNINGS: usize = 1_000;

// Items are moved out by value and never pinned.
impl<T> Unpin for PageStream<T> {}

impl<T> fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageStream")
            .field("operation", &self.req.op.method_name)
            .field("position", &self.position())
            .field("page_size", &self.req.page_size)
            .field("prefetch", &self.prefetch)
            .field("pages_fetched", &self.pages)
            .field("dropped_items", &self.dropped_items)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> PageStream<T> {
    /// A stream over `op` with `path_args` filling its path's placeholders in order.
    ///
    /// Fails when `op` does not page or the number of path arguments is wrong.
    pub fn new(
        api: MiroApi,
        op: &'static Operation,
        path_args: &[&str],
    ) -> Result<Self, PaginationError> {
        let start = Position::start_of(op).ok_or(PaginationError::NotPaginated {
            operation: op.method_name,
        })?;
        if path_args.len() != op.path_params.len() {
            return Err(PaginationError::PathArguments {
                operation: op.method_name,
                path: op.path,
                expected: op.path_params.len(),
                given: path_args.len(),
            });
        }
        let at = match start {
            Position::Cursor { .. } => PageAt::Cursor(None),
            Position::Offset { .. } => PageAt::Offset(0),
        };
        Ok(PageStream {
            req: Request {
                api,
                op,
                path_args: path_args.iter().map(|s| s.to_string()).collect(),
                filters: Vec::new(),
                page_size: op.max_page_size,
            },
            prefetch: true,
            problem: None,
            buffer: VecDeque::new(),
            buffer_at: at.clone(),
            buffer_dropped: Vec::new(),
            taken: 0,
            skip: 0,
            next: Next::Page(at),
            inflight: None,
            halted: false,
            cycle: CycleCheck::default(),
            pages: 0,
            warnings: Vec::new(),
            dropped_items: 0,
        })
    }

    /// Adds a query parameter (a filter such as `type` or `parent_item_id`).
    ///
    /// `name` must be one of the operation's query parameters other than `limit`, `cursor` and
    /// `offset` (the stream sets those); otherwise the stream yields
    /// [`PaginationError::InvalidQuery`] first and ends. A name given twice keeps the last value;
    /// for a list filter use [`query_values`](Self::query_values).
    pub fn query(self, name: &str, value: impl Into<String>) -> Self {
        self.query_values(name, [value])
    }

    /// Sets a list filter (`board_ids`, `emails`, `object_ids`, ...): one query pair per value,
    /// on every page, in place of any values `name` had.
    pub fn query_values<I, S>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let op = self.req.op;
        let known = op.query_params.iter().copied().find(|p| *p == name);
        match known {
            Some(_) if matches!(name, "limit" | "cursor" | "offset") => {
                self.problem.get_or_insert(PaginationError::InvalidQuery {
                    operation: op.method_name,
                    name: name.to_string(),
                    reason: "is set by the stream (use page_size or resume_from)",
                });
            }
            Some(static_name) => {
                self.req.filters.retain(|(n, _)| *n != static_name);
                self.req
                    .filters
                    .extend(values.into_iter().map(|v| (static_name, v.into())));
                self.restart_inflight();
            }
            None => {
                self.problem.get_or_insert(PaginationError::InvalidQuery {
                    operation: op.method_name,
                    name: name.to_string(),
                    reason: "is not a query parameter of this operation",
                });
            }
        }
        self
    }

    /// Items per page (default: the largest the operation accepts). A size outside what the
    /// operation accepts ([`page_size_bounds`]) is clamped into it.
    pub fn page_size(mut self, size: u32) -> Self {
        let (min, max) = page_size_bounds(self.req.op);
        let clamped = size.max(min).min(max.unwrap_or(u32::MAX));
        if clamped != size {
            tracing::debug!(
                operation = self.req.op.method_name,
                requested = size,
                sent = clamped,
                "page size clamped to what the operation accepts"
            );
        }
        self.req.page_size = Some(clamped);
        self.restart_inflight();
        self
    }

    /// Whether to request the next page while the current one is being yielded (default on).
    pub fn prefetch(mut self, on: bool) -> Self {
        self.prefetch = on;
        self
    }

    /// Starts (or restarts) at `position`, e.g. one taken from [`position`](Self::position)
    /// or [`PaginationError::position`] in an earlier run.
    pub fn resume_from(mut self, position: Position) -> Self {
        let op = self.req.op;
        if position.kind() != op.pagination {
            self.problem.get_or_insert(PaginationError::PositionKind {
                operation: op.method_name,
                position,
                expected: if op.pagination == Pagination::Offset {
                    "offset"
                } else {
                    "cursor"
                },
            });
            return self;
        }
        let (at, skip) = match position {
            Position::Cursor { cursor, skip } => (PageAt::Cursor(cursor), skip),
            Position::Offset { offset } => (PageAt::Offset(offset), 0),
        };
        self.inflight = None;
        self.buffer.clear();
        self.buffer_dropped.clear();
        self.taken = 0;
        self.skip = skip;
        self.buffer_at = at.clone();
        self.next = Next::Page(at);
        self.halted = false;
        self.cycle = CycleCheck::default();
        self
    }
}

impl<T> PageStream<T> {
    /// The operation this stream walks.
    pub fn operation(&self) -> &'static Operation {
        self.req.op
    }

    /// Where the stream stands: the first item not yet yielded. `None` once the list is
    /// exhausted (or ended on a repeated cursor). After a failed page it is that page, so a
    /// stream built with [`resume_from`](PageStream::resume_from) of it loses and repeats
    /// nothing.
    pub fn position(&self) -> Option<Position> {
        if !self.buffer.is_empty() {
            let received = received_index(&self.buffer_dropped, self.taken);
            return Some(to_position(&self.buffer_at, received));
        }
        match &self.next {
            Next::Page(at) => Some(to_position(at, self.skip)),
            Next::Failed(_) | Next::Done => None,
        }
    }

    /// How many pages were received so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    /// How many items of the pages received so far were left out because they did not decode
    /// (see [`take_decode_warnings`](Self::take_decode_warnings)).
    pub fn dropped_items(&self) -> u64 {
        self.dropped_items
    }

    /// Takes what decoding left out of the pages received so far, oldest first: items that did
    /// not decode ([`DecodeWarningKind::ItemDropped`](miro_api::decode::DecodeWarningKind),
    /// with the index in its page and the item's raw JSON) and fields decoded as absent. Each
    /// was also logged as a `tracing` warning. At most [`MAX_KEPT_WARNINGS`] are kept until
    /// taken; later ones are only logged (and counted by
    /// [`dropped_items`](Self::dropped_items) when they are items).
    pub fn take_decode_warnings(&mut self) -> Vec<DecodeWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// After a failed page: asks for it again on the next poll. Does nothing otherwise.
    pub fn resume(&mut self) {
        self.halted = false;
    }

    /// The stream's first item is [`PaginationError::InvalidQuery`] for a start (`offset`) that
    /// does not parse.
    pub(crate) fn invalid_start(mut self, name: &str) -> Self {
        self.problem.get_or_insert(PaginationError::InvalidQuery {
            operation: self.req.op.method_name,
            name: name.to_string(),
            reason: "is not a non-negative integer",
        });
        self
    }

    fn restart_inflight(&mut self) {
        self.inflight = None;
    }
}

/// The index in its page as received of the `decoded`-th item that decoded, `dropped` being the
/// indexes of those left out, in order.
fn received_index(dropped: &[usize], decoded: usize) -> usize {
    let mut index = decoded;
    for &d in dropped {
        if d <= index {
            index += 1;
        } else {
            break;
        }
    }
    index
}

fn to_position(at: &PageAt, taken: usize) -> Position {
    match at {
        PageAt::Cursor(c) => Position::Cursor {
            cursor: c.clone(),
            skip: taken,
        },
        PageAt::Offset(o) => Position::Offset {
            offset: o + taken as u64,
        },
    }
}

impl<T: DeserializeOwned + Send + 'static> PageStream<T> {
    /// Takes a received page: buffers its items and decides what comes next.
    fn accept(&mut self, at: PageAt, mut page: RawPage<T>) {
        self.pages += 1;
        // Items left out count as received: the next offset is past them, and a page of
        // nothing but such items does not end the walk.
        let got = page.received();
        self.dropped_items += page.dropped.len() as u64;
        let room = MAX_KEPT_WARNINGS.saturating_sub(self.warnings.len());
        self.warnings
            .extend(std::mem::take(&mut page.warnings).into_iter().take(room));
        self.next = if got == 0 {
            Next::Done
        } else {
            match &at {
                PageAt::Cursor(sent) => match page.cursor {
                    None => Next::Done,
                    Some(c) if sent.as_deref() == Some(c.as_str()) || self.cycle.repeats(&c) => {
                        Next::Failed(PaginationError::RepeatedCursor {
                            operation: self.req.op.method_name,
                            cursor: c,
                        })
                    }
                    Some(c) => Next::Page(PageAt::Cursor(Some(c))),
                },
                PageAt::Offset(offset) => {
                    let next = offset + got as u64;
                    let limit = self
                        .req
                        .sends_limit()
                        .map(u64::from)
                        .or(page.limit.and_then(|l| u64::try_from(l).ok()));
                    match page.total.and_then(|t| u64::try_from(t).ok()) {
                        Some(total) if next >= total => Next::Done,
                        Some(_) => Next::Page(PageAt::Offset(next)),
                        None if limit.is_some_and(|l| (got as u64) < l) => Next::Done,
                        None => Next::Page(PageAt::Offset(next)),
                    }
                }
            }
        };
        // `skip` counts the page's items as received; those left out are not in `data`.
        let skip = std::mem::take(&mut self.skip).min(got);
        let skip = skip - page.dropped.iter().filter(|&&d| d < skip).count();
        let skip = skip.min(page.data.len());
        self.buffer = page.data.into();
        self.buffer.drain(..skip);
        self.buffer_at = at;
        self.buffer_dropped = page.dropped;
        self.taken = skip;
        if self.prefetch {
            if let Next::Page(next) = &self.next {
                self.inflight = Some(InFlight::start(self.req.fetch(next)));
            }
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for PageStream<T> {
    type Item = Result<T, PaginationError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(problem) = this.problem.take() {
            this.inflight = None;
            this.buffer.clear();
            this.next = Next::Done;
            return Poll::Ready(Some(Err(problem)));
        }
        loop {
            if let Some(item) = this.buffer.pop_front() {
                this.taken += 1;
                return Poll::Ready(Some(Ok(item)));
            }
            if this.halted {
                return Poll::Ready(None);
            }
            let at = match &this.next {
                Next::Done => return Poll::Ready(None),
                Next::Failed(_) => {
                    let Next::Failed(e) = std::mem::replace(&mut this.next, Next::Done) else {
                        unreachable!("matched just above")
                    };
                    return Poll::Ready(Some(Err(e)));
                }
                Next::Page(at) => at.clone(),
            };
            let req = &this.req;
            // A page not prefetched is awaited right here: polled in place, not spawned.
            let inflight = this
                .inflight
                .get_or_insert_with(|| InFlight::Local(req.fetch(&at).boxed()));
            let result = ready!(inflight.poll(cx));
            this.inflight = None;
            let operation = this.req.op.method_name;
            match result {
                Some(Ok(page)) => this.accept(at, page),
                Some(Err(source)) => {
                    this.halted = true;
                    tracing::debug!(operation, error = %source, "page request failed");
                    return Poll::Ready(Some(Err(PaginationError::Page {
                        operation,
                        position: to_position(&at, this.skip),
                        source,
                    })));
                }
                None => {
                    this.halted = true;
                    return Poll::Ready(Some(Err(PaginationError::Interrupted {
                        operation,
                        position: to_position(&at, this.skip),
                    })));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let done = matches!(self.next, Next::Done);
        (
            self.buffer.len(),
            done.then_some(self.buffer.len() + usize::from(self.problem.is_some())),
        )
    }
}

impl<T: DeserializeOwned + Send + 'static> FusedStream for PageStream<T> {
    fn is_terminated(&self) -> bool {
        self.problem.is_none()
            && self.buffer.is_empty()
            && (self.halted || matches!(self.next, Next::Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_decodes_object_and_array() {
        let p: RawPage<u32> =
            serde_json::from_str(r#"{"data":[1,2],"cursor":"abc","total":9,"links":{}}"#).unwrap();
        assert_eq!(p.data, vec![1, 2]);
        assert_eq!(p.cursor.as_deref(), Some("abc"));
        assert_eq!(p.total, Some(9));
        let p: RawPage<u32> = serde_json::from_str(r#"{"data":[],"cursor":""}"#).unwrap();
        assert_eq!(p.cursor, None);
        let p: RawPage<u32> = serde_json::from_str(r#"{"data":[3],"cursor":42}"#).unwrap();
        assert_eq!(p.cursor.as_deref(), Some("42"));
        let p: RawPage<u32> = serde_json::from_str("[4,5,6]").unwrap();
        assert_eq!(p.data, vec![4, 5, 6]);
        assert!(serde_json::from_str::<RawPage<u32>>(r#"{"cursor":"x"}"#).is_err());
        assert!(serde_json::from_str::<RawPage<u32>>(r#"{"data":["x"]}"#).is_err());
    }

    #[test]
    fn cycle_check_finds_cycles_of_any_length() {
        for len in 1..20usize {
            for lead in 0..10usize {
                let mut check = CycleCheck::default();
                let seq = (0..lead)
                    .map(|i| format!("lead{i}"))
                    .chain((0..).map(|i| format!("loop{}", i % len)));
                let found = seq
                    .take(4 * (len + lead) + 4)
                    .position(|c| check.repeats(&c));
                let at = found.unwrap_or_else(|| panic!("cycle {len} after {lead} not found"));
                assert!(at >= lead + len, "reported before the cycle closed");
            }
        }
        let mut check = CycleCheck::default();
        assert!((0..10_000).all(|i| !check.repeats(&i.to_string())));
    }

    #[test]
    fn position_round_trips_through_json() {
        for p in [
            Position::first_cursor_page(),
            Position::Cursor {
                cursor: Some("c1".into()),
                skip: 3,
            },
            Position::offset(150),
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Position>(&json).unwrap(), p);
        }
        assert_eq!(Position::offset(5).to_string(), "offset 5");
        assert_eq!(
            Position::Cursor {
                cursor: Some("c".into()),
                skip: 2
            }
            .to_string(),
            "cursor \"c\" (after its first 2)"
        );
    }
}
