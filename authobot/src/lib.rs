//! authobot: see README.md.
