//! fake-dockerd: see README.md.
