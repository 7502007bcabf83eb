//! The OpenAPI document, written by hand beside the routes it describes
//! (`openapi.json`) and served as is; `tests/api.rs` checks that every
//! route is documented and every documented operation answers as described.

use axum::http::header;
use axum::response::IntoResponse;

/// The document (OpenAPI 3.1, JSON).
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// (method, path) of every `.route(…)` in the API's router, read from its source.
    fn routed() -> BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let mut out = BTreeSet::new();
        for call in src.split(".route(").skip(1) {
            let rest = call.trim_start().strip_prefix('"').expect("a quoted path");
            let (path, handlers) = rest.split_once('"').expect("a quoted path");
            for method in ["get", "post", "put", "delete", "patch"] {
                if handlers.contains(&format!("{method}(")) {
                    out.insert((method.to_string(), path.to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_documented_api_path_is_routed() {
        let doc: serde_json::Value =
            serde_json::from_str(super::DOCUMENT).expect("the document is JSON");
        let mut documented = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops.as_object().expect("operations").keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        let routed = routed();
        assert!(
            routed.len() > 20,
            "the router's source was read: {routed:?}"
        );
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented
            .iter()
            .filter(|(_, p)| p.starts_with("/api/"))
            .filter(|k| !routed.contains(*k))
            .collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
        let ids: BTreeSet<_> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|o| o.as_object().unwrap().values())
            .map(|op| {
                op["operationId"]
                    .as_str()
                    .expect("an operationId")
                    .to_string()
            })
            .collect();
        assert_eq!(ids.len(), documented.len(), "operationIds are unique");
    }
}
