//! BPF steering datapath (placeholder until implemented).
