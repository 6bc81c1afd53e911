//! Credentials carried by URLs, hidden before a URL is shown (`Debug`, an error, a log line,
//! an example's output): `http://user:secret@host` → `http://***@host`.

/// `text` with the credentials of every URL in it replaced by `***`: the userinfo (what
/// precedes `@` in the authority) of the URL itself and of any URL nested in it (a query value
/// such as `?chronos=http://user:secret@host`, plain or percent-encoded). Errs on the side of
/// hiding: an `@` anywhere before the query of a URL hides what precedes it.
///
/// ```
/// use tars_api::redact::url_credentials;
/// assert_eq!(url_credentials("http://tars:s3cret@mesos:5050"), "http://***@mesos:5050");
/// assert_eq!(
///     url_credentials("mesos://m:5050?chronos=http://u:s3cret@c:4400&state=/s"),
///     "mesos://m:5050?chronos=http://***@c:4400&state=/s"
/// );
/// assert_eq!(url_credentials("local:///var/tars"), "local:///var/tars");
/// ```
pub fn url_credentials(text: &str) -> String {
    const PLAIN: &str = "://";
    const ENCODED: &str = "%3a%2f%2f";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    loop {
        let plain = lower[at..].find(PLAIN).map(|i| (at + i, PLAIN.len()));
        let encoded = lower[at..].find(ENCODED).map(|i| (at + i, ENCODED.len()));
        let next = match (plain, encoded) {
            (Some(p), Some(e)) => Some(if p.0 <= e.0 { p } else { e }),
            (p, e) => p.or(e),
        };
        let Some((start, len)) = next else {
            out.push_str(&text[at..]);
            return out;
        };
        let authority = start + len;
        out.push_str(&text[at..authority]);
        // The authority (and, to err on the safe side, the path) ends where the query, the
        // fragment, the next parameter or the text does.
        let end = lower[authority..]
            .find(|c: char| {
                matches!(c, '?' | '#' | '&' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
            })
            .map_or(text.len(), |i| authority + i);
        let end = ["%3f", "%23", "%26"]
            .iter()
            .filter_map(|t| lower[authority..end].find(t).map(|i| authority + i))
            .min()
            .unwrap_or(end);
        let userinfo_end = [
            lower[authority..end].rfind('@'),
            lower[authority..end].rfind("%40"),
        ]
        .into_iter()
        .flatten()
        .max()
        .map(|i| authority + i);
        match userinfo_end {
            Some(u) if u > authority => {
                out.push_str("***");
                out.push_str(&text[u..end]);
            }
            _ => out.push_str(&text[authority..end]),
        }
        at = end;
    }
}

#[cfg(test)]
mod tests {
    use super::url_credentials;

    #[test]
    fn hides_the_userinfo_of_every_url_and_keeps_the_rest() {
        for (given, shown) in [
            ("http://u:p@h:1/x?y=z", "http://***@h:1/x?y=z"),
            ("http://h:1", "http://h:1"),
            ("h:5050", "h:5050"),
            ("http://user@h", "http://***@h"),
            ("HTTP://u:p@h", "HTTP://***@h"),
            (
                "mesos://u:p@m:5050?state=/s&chronos=http://c:q@c:4400",
                "mesos://***@m:5050?state=/s&chronos=http://***@c:4400",
            ),
            (
                "mesos://m?chronos=http%3A%2F%2Fu%3Ap%40c%3A4400&state=%2Fs",
                "mesos://m?chronos=http%3A%2F%2F***%40c%3A4400&state=%2Fs",
            ),
            (
                "\"http://u:p@h:notaport\" is not a URL",
                "\"http://***@h:notaport\" is not a URL",
            ),
            // A password with an unencoded `/` or `@`: still hidden.
            ("http://u:p/a@ss@h/x", "http://***@h/x"),
            ("no url here", "no url here"),
            ("://@", "://@"),
            ("http://@h", "http://@h"),
        ] {
            assert_eq!(url_credentials(given), shown, "{given}");
        }
    }
}
