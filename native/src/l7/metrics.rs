//! (being written: see docs/l7.md)
