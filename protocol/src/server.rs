//! The plugin server: hyper http1 on a unix socket, driving an [`crate::AuthzPlugin`].
