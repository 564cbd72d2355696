//! Reading and answering calls in the AWS wire dialects the supplements handle.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::endpoint::{Call, Protocol, Reply};

/// The fields of a Query call's form (from the body, or the query string of a GET).
pub(crate) fn form_fields(call: &Call) -> Vec<(String, String)> {
    let from_uri = call
        .uri
        .query()
        .map(|query| parse_form(query.as_bytes()))
        .unwrap_or_default();
    let mut fields = parse_form(&call.body);
    fields.extend(from_uri);
    fields
}

fn parse_form(form: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(form)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The first value of a form field.
pub(crate) fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
}

/// The body of a JSON call; an empty body is an empty input.
pub(crate) fn json_body(call: &Call) -> Result<serde_json::Value, String> {
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(&call.body)
        .map_err(|error| format!("the request body is not JSON: {error}"))
}

/// A Query-protocol answer: an XML document.
pub(crate) fn xml_reply(status: StatusCode, body: String) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    Reply {
        status,
        headers,
        body: Bytes::from(body),
    }
}

/// A Query-protocol error, as ELBv2 and EC2 send it.
pub(crate) fn query_error(status: StatusCode, sender: bool, code: &str, message: &str) -> Reply {
    let kind = if sender { "Sender" } else { "Receiver" };
    xml_reply(
        status,
        format!(
            "<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error>\
             <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>",
            xml_escape(code),
            xml_escape(message)
        ),
    )
}

/// An error in the call's own dialect: JSON `__type` for JSON services (and CloudWatch, whose
/// calls the endpoint holds as JSON and turns into CBOR), Query XML for Query services, and the
/// REST services' XML `<Error>` (S3) or JSON (Lambda).
pub(crate) fn error_reply(
    call: &Call,
    status: StatusCode,
    sender: bool,
    codes: ErrorCodes<'_>,
    message: &str,
) -> Reply {
    match call.protocol {
        Protocol::Query => query_error(status, sender, codes.query, message),
        Protocol::Rest if call.service == "s3" => xml_reply(
            status,
            format!(
                "<Error><Code>{}</Code><Message>{}</Message></Error>",
                xml_escape(codes.query),
                xml_escape(message)
            ),
        ),
        Protocol::AwsJson | Protocol::RpcV2Cbor | Protocol::Rest => {
            Reply::json_error(status, codes.json, message)
        }
    }
}

/// An error's code in the JSON and the Query dialects (`ThrottlingException` / `Throttling`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCodes<'c> {
    pub(crate) json: &'c str,
    pub(crate) query: &'c str,
}

/// Escapes text for an XML element.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The text of the first descendant element named `name` (namespace ignored).
pub(crate) fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.descendants()
        .find(|child| child.is_element() && child.tag_name().name() == name)
        .and_then(|child| child.text())
}

/// Replaces byte ranges of `text` (non-overlapping, any order) with new content.
pub(crate) fn splice(text: &str, mut edits: Vec<(std::ops::Range<usize>, String)>) -> String {
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, replacement) in edits {
        if range.start < at || range.end > text.len() {
            continue;
        }
        out.push_str(&text[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_apply_in_order_and_skip_overlaps() {
        let text = "<a>one</a><b>two</b>";
        let edited = splice(
            text,
            vec![
                (13..16, "2".to_owned()),
                (3..6, "1".to_owned()),
                (4..5, "x".to_owned()),
            ],
        );
        assert_eq!(edited, "<a>1</a><b>2</b>");
        assert_eq!(xml_escape("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
    }
}
