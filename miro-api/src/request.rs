//! [`RawRequest`]: a request to any path, for what the spec lacks (experimental endpoints, new
//! ones), sent through the same transport as the generated methods.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::operations::{Operation, Pagination};
use crate::response::Response;
use crate::runtime::MultipartBody;
use crate::MiroApi;

/// Credits of a level-1 operation, what a raw `GET` outside the operations table is priced at.
const READ_CREDITS: u32 = 50;
/// Credits of a level-2 operation, what any other raw request outside the table is priced at.
const WRITE_CREDITS: u32 = 100;

/// The operations-table entry of an operation the spec lacks. Every hand-written entry (the
/// raw requests and the [comments](crate::comments) wrapper) is built here, so a field added
/// to [`Operation`] is filled in this one place.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn unlisted_operation(
    id: &'static str,
    method_name: &'static str,
    http_method: &'static str,
    path: &'static str,
    credits: u32,
    pagination: Pagination,
    max_page_size: Option<u32>,
    path_params: &'static [&'static str],
    query_params: &'static [&'static str],
) -> Operation {
    Operation {
        id,
        method_name,
        http_method,
        path,
        tag: "unlisted",
        level: None,
        credits,
        credits_per_item: false,
        pagination,
        max_page_size,
        min_page_size: None,
        path_params,
        query_params,
        multipart: false,
        media_type: "application/json",
    }
}

/// The body of a raw request.
enum Body {
    None,
    Json(Vec<u8>),
    Multipart(MultipartBody),
}

/// A request to any path of the API, built by [`MiroApi::request`]: set its query parameters
/// and body, then [`send`](Self::send) it for a typed (or `serde_json::Value`) answer, or
/// [`send_empty`](Self::send_empty) for an answer without a body.
///
/// It goes through the same transport as the generated methods: the same token, retries,
/// pacing, time limits and `miro_api` tracing span (whose operation is the path template), and
/// the same [`Response`] and [`Error`].
#[must_use = "a request does nothing until it is sent"]
pub struct RawRequest<'a> {
    api: &'a MiroApi,
    op: Operation,
    args: Vec<String>,
    query: Vec<(String, String)>,
    body: Body,
    /// A problem found while building, reported by `send` before anything goes out.
    problem: Option<String>,
}

impl std::fmt::Debug for RawRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("method", &self.op.http_method)
            .field("path", &self.op.path)
            .field("args", &self.args)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

/// The `'static` name of a standard HTTP method (the operations table holds `'static` names).
fn method_name(method: &reqwest::Method) -> Option<&'static str> {
    use reqwest::Method as M;
    Some(match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        _ => return None,
    })
}

/// Whether two path templates have the same literal segments and placeholders in the same
/// places (`{}` matches `{board_id}`).
fn same_template(a: &str, b: &str) -> bool {
    let (a, b) = (a.split('/'), b.split('/'));
    a.clone().count() == b.clone().count()
        && a.zip(b).all(|(x, y)| {
            x == y
                || (x.starts_with('{')
                    && x.ends_with('}')
                    && y.starts_with('{')
                    && y.ends_with('}'))
        })
}

impl MiroApi {
    /// A request to any path: `path` is a template whose placeholders (`{}` or `{name}`) are
    /// filled by `args` in order, each percent-encoded to stay exactly one segment, as the
    /// generated methods do.
    ///
    /// ```no_run
    /// # async fn run(api: miro_api::MiroApi, board_id: &str) -> Result<(), miro_api::Error> {
    /// use miro_api::Method;
    /// // An endpoint the spec lacks, answered as raw JSON.
    /// let diagrams = api
    ///     .request(Method::GET, "/v2/boards/{}/diagrams", [board_id])
    ///     .query("limit", 10)
    ///     .send::<serde_json::Value>()
    ///     .await?;
    /// println!("{}", diagrams["data"]);
    /// # Ok(()) }
    /// ```
    ///
    /// A request whose method and template match an operation of the
    /// [operations table](crate::operations) is paced with that operation's credits; any
    /// other costs a level-1 operation's credits for `GET`, a level-2 one's otherwise
    /// ([`RawRequest::credits`] overrides it). A method other than the standard ones, or a
    /// wrong number of `args`, is [`Error::InvalidRequest`] when sent.
    pub fn request<I, S>(
        &self,
        method: crate::Method,
        path: &'static str,
        args: I,
    ) -> RawRequest<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args = args.into_iter().map(|a| a.as_ref().to_string()).collect();
        let (http_method, problem) = match method_name(&method) {
            Some(m) => (m, None),
            None => ("GET", Some(format!("unsupported HTTP method {method}"))),
        };
        let listed = crate::operations::OPERATIONS
            .iter()
            .find(|op| op.http_method == http_method && same_template(op.path, path));
        let op = match listed {
            Some(op) => *op,
            None => unlisted_operation(
                path,
                "request",
                http_method,
                path,
                if http_method == "GET" {
                    READ_CREDITS
                } else {
                    WRITE_CREDITS
                },
                Pagination::None,
                None,
                &[],
                &[],
            ),
        };
        RawRequest {
            api: self,
            op,
            args,
            query: Vec::new(),
            body: Body::None,
            problem,
        }
    }

    /// A request of a hand-written operation (its table entry gives the span's operation id and
    /// the credits).
    #[cfg_attr(not(feature = "experimental"), allow(dead_code))]
    pub(crate) fn request_of<I, S>(&self, op: &Operation, args: I) -> RawRequest<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        RawRequest {
            api: self,
            op: *op,
            args: args.into_iter().map(|a| a.as_ref().to_string()).collect(),
            query: Vec::new(),
            body: Body::None,
            problem: None,
        }
    }
}

impl<'a> RawRequest<'a> {
    /// Adds a query parameter. Call it once per value for a list (`?ids=a&ids=b`).
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub fn query_opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Body::Json(bytes),
            Err(e) => {
                self.problem.get_or_insert(format!("the JSON body: {e}"));
            }
        }
        self
    }

    /// A `multipart/form-data` body, built in memory so that a retry sends the same bytes:
    /// `MultipartBody::new().json("data", &data)?.file("resource", file)`.
    pub fn multipart(mut self, body: MultipartBody) -> Self {
        self.body = Body::Multipart(body);
        self
    }

    /// The credits the request costs against the rate-limit budget (see
    /// [`MiroApi::request`] for the default).
    pub fn credits(mut self, credits: u32) -> Self {
        self.op.credits = credits;
        self
    }

    /// Sends the request and decodes the answer's JSON as `T` (`serde_json::Value` keeps it
    /// raw). A success without a body (a 204) decodes as JSON `null`, so `Option<T>` or
    /// `serde_json::Value` accept it; [`send_empty`](Self::send_empty) ignores the body.
    pub async fn send<T: DeserializeOwned>(self) -> Result<Response<T>, Error> {
        let (api, op, request) = self.build()?;
        api.execute_json(request, &op).await
    }

    /// Sends the request; the answer's body, if any, is not read as JSON.
    pub async fn send_empty(self) -> Result<Response<()>, Error> {
        let (api, op, request) = self.build()?;
        api.execute_empty(request, &op).await
    }

    fn build(self) -> Result<(&'a MiroApi, Operation, reqwest::RequestBuilder), Error> {
        let op = self.op;
        if let Some(message) = self.problem {
            return Err(Error::InvalidRequest {
                operation: op.method_name,
                message,
            });
        }
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let url = self.api.url_of(&op, &args)?;
        let method = reqwest::Method::from_bytes(op.http_method.as_bytes()).map_err(|e| {
            Error::InvalidRequest {
                operation: op.method_name,
                message: e.to_string(),
            }
        })?;
        let mut request = self
            .api
            .http()
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        if !self.query.is_empty() {
            request = request.query(&self.query);
        }
        request = match self.body {
            Body::None => request,
            Body::Json(bytes) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes),
            Body::Multipart(body) => {
                let (content_type, bytes) = body.finish();
                request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes)
            }
        };
        Ok((self.api, op, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_by_segments_and_placeholders() {
        assert!(same_template("/v2/boards/{board_id}", "/v2/boards/{}"));
        assert!(!same_template("/v2/boards/{board_id}", "/v2/boards/x"));
        assert!(!same_template(
            "/v2/boards/{board_id}/items",
            "/v2/boards/{}"
        ));
    }

    #[test]
    #[cfg(feature = "boards")]
    fn a_listed_operation_keeps_its_credits_and_an_unlisted_one_is_priced_by_method() {
        let api = MiroApi::new("t");
        let listed = api.request(crate::Method::POST, "/v2/boards", [""; 0]);
        assert_eq!(listed.op.credits, crate::operations::CREATE_BOARD.credits);
        assert_eq!(listed.op.id, "create-board");
        let read = api.request(crate::Method::GET, "/v2/boards/{}/diagrams", ["b"]);
        assert_eq!(
            (read.op.credits, read.op.id),
            (READ_CREDITS, "/v2/boards/{}/diagrams")
        );
        let write = api.request(crate::Method::POST, "/v2/x/{}", ["b"]);
        assert_eq!(write.op.credits, WRITE_CREDITS);
    }
}
