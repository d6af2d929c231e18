//! Node proxy (placeholder until implemented).
