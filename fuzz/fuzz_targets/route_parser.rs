//! Fuzz target: the route parser never panics or hangs, and every route it returns is one
//! dockerd could have executed (clean path, known template, parameters inside the path).
//!
//! Input: the method, a newline, then the raw request target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::route;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (method, target) = text.split_once('\n').unwrap_or(("GET", text));
    let Ok(route) = route::parse(method, target) else {
        return;
    };
    assert!(route.path.starts_with('/'), "{route:?}");
    assert!(!route.path.contains("//"), "{route:?}");
    assert!(
        !route.path.split('/').any(|s| s == "." || s == ".."),
        "{route:?}"
    );
    for (_, value) in &route.params {
        assert!(route.path.contains(value.as_str()), "{route:?}");
    }
    if let Some(version) = &route.version {
        assert!(
            version.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "{route:?}"
        );
    }
    assert_eq!(route::parse(method, target).as_ref(), Ok(&route));
});
