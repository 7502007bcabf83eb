//! The page shell every dashboard page shares (head, navigation, the live
//! indicator) and the small pieces pages repeat: times in UTC with their
//! age, class labels, green/red lights.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Which page the navigation marks as current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The overview.
    Overview,
    /// A job's page.
    Job,
    /// An incident's page.
    Incident,
    /// The matrix runs.
    Matrix,
}

/// A whole page: `live` is the lane filter of the event stream the script
/// subscribes to (`Some("")`: every lane; None: the page is not live).
pub fn page(title: &str, nav: Nav, live: Option<&str>, body: Markup) -> Markup {
    let link = |href: &str, label: &str, me: Nav| {
        html! { a href=(href) aria-current=[(nav == me).then_some("page")] { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · agentlane" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body data-live=[live] {
                header.top {
                    a.brand href="/" { "agentlane" }
                    nav aria-label="Pages" {
                        (link("/", "Overview", Nav::Overview))
                        (link("/matrix", "Matrix", Nav::Matrix))
                    }
                    @if live.is_some() {
                        span #live.live role="status" aria-live="polite" data-state="static" {
                            "static page (live updates need JavaScript)"
                        }
                    }
                }
                main { (body) }
                footer { "Times are UTC. " (PreEscaped("&middot;")) " Served from the store the workers use; secrets were redacted before they were stored." }
            }
        }
    }
}

/// A stored time (RFC 3339, UTC) as `2026-12-05 19:40:51 UTC` with its age
/// (`3m ago`), in a `<time>` the script keeps fresh. Text that is not a
/// time is shown as it is.
pub fn when(at: &str) -> Markup {
    when_at(at, jiff::Timestamp::now())
}

/// [`when`], its age counted from `now`.
pub fn when_at(at: &str, now: jiff::Timestamp) -> Markup {
    match at.parse::<jiff::Timestamp>() {
        Ok(t) => {
            let shown = t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string();
            html! {
                time datetime=(at) title=(shown) { (shown) " " span.age { "(" (age(now.as_second() - t.as_second())) ")" } }
            }
        }
        Err(_) => html! { (at) },
    }
}

/// An age in seconds as words: `just now`, `45s ago`, `12m ago`, `3h ago`,
/// `2d ago`, `in 5m` for a time still to come.
pub fn age(secs: i64) -> String {
    let (n, future) = if secs < 0 {
        (-secs, true)
    } else {
        (secs, false)
    };
    let unit = match n {
        0..=4 => return "just now".into(),
        5..=59 => format!("{n}s"),
        60..=3599 => format!("{}m", n / 60),
        3600..=86_399 => format!("{}h", n / 3600),
        _ => format!("{}d", n / 86_400),
    };
    if future {
        format!("in {unit}")
    } else {
        format!("{unit} ago")
    }
}

/// A class or state label, coloured by what it means.
pub fn label(text: &str) -> Markup {
    let tone = match text {
        "ok" | "succeeded" | "done" | "resolved" | "closed" | "healthy" => "good",
        "queued" | "run" | "running" | "scheduled" | "half_open" | "-" | "" => "neutral",
        "parked" | "blocked" | "cancelled" | "rate_limited" | "timeout" | "lane_specific"
        | "payload_specific" => "warn",
        _ => "bad",
    };
    html! { span.label data-tone=(tone) { (if text.is_empty() { "-" } else { text }) } }
}

/// A green (true), red (false) or grey (unknown) light with its name, read
/// by a screen reader as "cli_resolves: yes".
pub fn light(name: &str, value: Option<bool>) -> Markup {
    let (state, word) = match value {
        Some(true) => ("on", "yes"),
        Some(false) => ("off", "no"),
        None => ("unknown", "not checked"),
    };
    html! {
        span.light data-check=(name) data-state=(state) title=(format!("{name}: {word}")) {
            span.dot aria-hidden="true" {} span.name { (name) } span.visually-hidden { ": " (word) }
        }
    }
}

/// A job id as a link to its page, shortened for reading (the full id in
/// the title and the address).
pub fn job_link(id: &str) -> Markup {
    html! { a.id href=(format!("/jobs/{id}")) title=(id) { (short(id)) } }
}

/// An incident id as a link to its page.
pub fn incident_link(id: &str) -> Markup {
    html! { a.id href=(format!("/incidents/{id}")) title=(id) { (short(id)) } }
}

/// The last 12 characters of an id: the part that differs between ids made
/// at the same time (UUIDv7s share their time prefix).
pub fn short(id: &str) -> String {
    let n = id.chars().count();
    if n <= 13 {
        id.to_string()
    } else {
        format!("…{}", id.chars().skip(n - 12).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_words() {
        assert_eq!(age(0), "just now");
        assert_eq!(age(45), "45s ago");
        assert_eq!(age(12 * 60 + 5), "12m ago");
        assert_eq!(age(3 * 3600), "3h ago");
        assert_eq!(age(2 * 86_400 + 7), "2d ago");
        assert_eq!(age(-300), "in 5m");
    }

    #[test]
    fn times_are_shown_in_utc_with_their_age() {
        let now: jiff::Timestamp = "2026-12-05T19:43:51Z".parse().unwrap();
        let m = when_at("2026-12-05T19:40:51.108Z", now).into_string();
        assert!(m.contains("2026-12-05 19:40:51 UTC"), "{m}");
        assert!(m.contains("(3m ago)"), "{m}");
        assert!(m.contains("datetime=\"2026-12-05T19:40:51.108Z\""), "{m}");
        // Not a time: shown as it is, escaped.
        assert_eq!(when_at("<b>", now).into_string(), "&lt;b&gt;");
    }

    #[test]
    fn ids_are_shortened_to_their_distinct_end() {
        assert_eq!(
            short("01a247b9-3a24-7526-bd66-06c7be4b42ff"),
            "…06c7be4b42ff"
        );
        assert_eq!(short("abc"), "abc");
    }
}
