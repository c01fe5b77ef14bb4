//! Text from an OAuth server (an `error_description`, Miro's `message`) goes into
//! [`OAuthError`](crate::OAuthError)s and so into logs. A server or proxy that echoes its
//! request would put our refresh token, code or client secret there: everything secret we
//! sent is cut out of it first.

/// Longest server text kept (in characters); the rest is cut off before scrubbing, so a
/// secret cut in half is still found by its fragment.
const MAX_TEXT: usize = 1024;
/// A run of at least this many characters of a secret is removed wherever it appears (a
/// shorter secret only whole).
const MIN_RUN: usize = 8;
/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// Form or JSON fields of our requests that hold nothing secret; every other value we send
/// is treated as secret.
const PUBLIC_FIELDS: [&str; 4] = ["grant_type", "redirect_uri", "client_id", "clientId"];

/// The secrets one request carried.
#[derive(Default)]
pub(crate) struct Sent {
    /// Each secret in the forms it may come back in: as sent, form-encoded, percent-encoded,
    /// JSON-escaped; ASCII-lowercased (matching ignores ASCII case).
    forms: Vec<Vec<u8>>,
}

impl Sent {
    /// The secrets given (empty ones are ignored).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Sent {
        let mut sent = Sent::default();
        for s in secrets {
            sent.add(s);
        }
        sent
    }

    /// The secrets in `request`: its `Authorization` credentials and every value of its
    /// form or JSON body except [`PUBLIC_FIELDS`].
    pub fn of(request: &reqwest::Request) -> Sent {
        let mut sent = Sent::default();
        if let Some(auth) = request.headers().get(reqwest::header::AUTHORIZATION) {
            let auth = String::from_utf8_lossy(auth.as_bytes());
            sent.add(
                auth.split_once(' ')
                    .map_or(&*auth, |(_, credentials)| credentials),
            );
        }
        let Some(body) = request.body().and_then(|b| b.as_bytes()) else {
            return sent;
        };
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) {
            for (key, value) in &fields {
                if !PUBLIC_FIELDS.contains(&key.as_str()) {
                    sent.add_json(value);
                }
            }
        } else {
            for (key, value) in form_urlencoded::parse(body) {
                if !PUBLIC_FIELDS.contains(&&*key) {
                    sent.add(&value);
                }
            }
        }
        sent
    }

    fn add_json(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) => self.add(s),
            serde_json::Value::Number(n) => self.add(&n.to_string()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| self.add_json(v)),
            serde_json::Value::Object(fields) => fields.values().for_each(|v| self.add_json(v)),
            serde_json::Value::Null | serde_json::Value::Bool(_) => {}
        }
    }

    fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        let percent = form.replace('+', "%20");
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.trim_matches('"');
        for variant in [secret, &form, &percent, json] {
            let variant = variant.to_ascii_lowercase().into_bytes();
            if !variant.is_empty() && !self.forms.contains(&variant) {
                self.forms.push(variant);
            }
        }
    }

    /// `text` cut to [`MAX_TEXT`] characters, with every secret (and every run of at least
    /// [`MIN_RUN`] characters of one) replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let cut = text
            .char_indices()
            .nth(MAX_TEXT)
            .map_or(text.len(), |(at, _)| at);
        let text = &text[..cut];
        let lower = text.to_ascii_lowercase().into_bytes();
        // Which bytes of `text` belong to a secret.
        let mut hidden = vec![false; lower.len()];
        for form in &self.forms {
            let min = MIN_RUN.min(form.len());
            // run[j]: the length of the common run ending at the current byte of the text and
            // byte j of the secret.
            let mut run = vec![0usize; form.len() + 1];
            for (i, &b) in lower.iter().enumerate() {
                for j in (1..=form.len()).rev() {
                    run[j] = if form[j - 1] == b { run[j - 1] + 1 } else { 0 };
                    if run[j] >= min {
                        hidden[i + 1 - run[j]..=i]
                            .iter_mut()
                            .for_each(|h| *h = true);
                    }
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut in_secret = false;
        for (at, c) in text.char_indices() {
            // A character counts as hidden when any of its bytes is.
            if hidden[at..at + c.len_utf8()].iter().any(|h| *h) {
                if !in_secret {
                    out.push_str(REDACTED);
                    in_secret = true;
                }
            } else {
                out.push(c);
                in_secret = false;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFRESH: &str = "rt+Ab/9xQ==Kp2-very-long-refresh";
    const SECRET: &str = "client-secret-VERY-PRIVATE";

    fn sent() -> Sent {
        Sent::new([REFRESH, SECRET, "c0de"])
    }

    fn assert_clean(text: &str) {
        for s in [REFRESH, SECRET, "c0de"] {
            assert!(!text.contains(s), "{s} in {text}");
        }
        for fragment in [&REFRESH[..MIN_RUN], &REFRESH[REFRESH.len() - MIN_RUN..]] {
            assert!(!text.contains(fragment), "{fragment} in {text}");
        }
    }

    #[test]
    fn secrets_are_cut_out_in_every_form() {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", REFRESH)
            .append_pair("client_secret", SECRET)
            .append_pair("code", "c0de")
            .finish();
        let json = serde_json::json!({"refreshToken": REFRESH, "clientSecret": SECRET}).to_string();
        for text in [
            format!("bad request: {form}"),
            format!("echo {json}"),
            format!("{REFRESH}{SECRET}"),
            REFRESH.to_uppercase(),
            form.to_lowercase(),
            form.replace("%2B", "%2b"),
            format!("truncated {}", &REFRESH[..12]),
            REFRESH[REFRESH.len() - 10..].to_string(),
        ] {
            let scrubbed = sent().scrub(&text);
            assert_clean(&scrubbed);
            assert!(scrubbed.contains(REDACTED), "{scrubbed}");
        }
        // What we did not send stays, as does a short secret's fragment.
        assert_eq!(
            sent().scrub("invalid_grant: the refresh token was used (c0d)"),
            "invalid_grant: the refresh token was used (c0d)"
        );
        assert_eq!(sent().scrub("code c0de used"), "code [redacted] used");
        assert_eq!(Sent::default().scrub("é ü"), "é ü");
    }

    #[test]
    fn long_text_is_cut_before_scrubbing() {
        let text = format!("{}{REFRESH}", "é".repeat(MAX_TEXT - 10));
        let scrubbed = sent().scrub(&text);
        assert_clean(&scrubbed);
        assert_eq!(
            scrubbed,
            format!("{}{REDACTED}", "é".repeat(MAX_TEXT - 10)),
            "the ten characters kept of the secret are hidden"
        );
    }

    #[test]
    fn secrets_of_a_request() {
        let client = miro_api::http_client_builder().build().unwrap();
        let form = client
            .post("http://localhost/v1/oauth/token")
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", REFRESH),
                ("client_id", "3458764"),
                ("client_secret", SECRET),
            ])
            .build()
            .unwrap();
        let scrubbed = Sent::of(&form).scrub(&format!(
            "{REFRESH} {SECRET} refresh_token 3458764 grant_type"
        ));
        assert_eq!(
            scrubbed,
            format!("{REDACTED} {REDACTED} refresh_token 3458764 grant_type")
        );
        let json = client
            .post("http://localhost/v2/oauth/revoke")
            .json(&serde_json::json!({"accessToken": "acc-12345678", "clientId": "3458764", "clientSecret": SECRET}))
            .build()
            .unwrap();
        assert_eq!(
            Sent::of(&json).scrub(&format!("acc-12345678 {SECRET} 3458764")),
            format!("{REDACTED} {REDACTED} 3458764")
        );
        let bearer = client
            .get("http://localhost/v1/oauth-token")
            .bearer_auth("acc-87654321")
            .build()
            .unwrap();
        assert_eq!(
            Sent::of(&bearer).scrub("token acc-87654321 expired"),
            format!("token {REDACTED} expired")
        );
    }
}
