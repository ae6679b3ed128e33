//! The daemon side of the protocol: a pooled plugin client over a unix socket.
