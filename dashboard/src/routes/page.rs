//! The web page: `GET /` and its script and style under `/assets/`, compiled into the
//! binary (no front-end build). The page holds no server-rendered data: everything it
//! shows comes from the JSON APIs and the WebSocket and is inserted as text by `app.js`,
//! so hostile post text can never become markup.

use axum::http::header;
use axum::response::IntoResponse;

const INDEX_HTML: &str = include_str!("../../assets/index.html");
const APP_JS: &str = include_str!("../../assets/app.js");
const APP_CSS: &str = include_str!("../../assets/app.css");
const INFLUENCE_JS: &str = include_str!("../../assets/influence.js");

/// Assets change only with the binary; browsers revalidate each load.
const CACHE_CONTROL: &str = "no-cache";

pub(crate) async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        INDEX_HTML,
    )
}

pub(crate) async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        APP_JS,
    )
}

pub(crate) async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        APP_CSS,
    )
}

/// The influencer leaderboards panel (`assets/influence.js`).
pub(crate) async fn influence_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        INFLUENCE_JS,
    )
}
