//! The node proxy's L7 surface for JavaScript, read at scrape time or on a timer: the golden
//! metrics, the per-policy HTTP authorization counts and the queued JSON log lines (request
//! denials). Nothing here runs per request.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use super::Proxy;
use crate::errors::{guard, Result};
use crate::l7::api::resource_of;
use crate::l7::trace_otlp;

#[napi]
impl Proxy {
    /// The golden metrics of the HTTP proxy (native/src/l7/metrics.rs snapshot), as JSON.
    #[napi]
    pub fn golden_metrics(&self) -> Result<String> {
        guard("goldenMetrics", || {
            Ok(self
                .open("goldenMetrics")?
                .shared
                .l7
                .metrics
                .snapshot_json())
        })
    }

    /// `[{ policy, allow, deny }]` of inbound HTTP authorization (HttpAuthzCounters), as JSON.
    #[napi]
    pub fn http_authz(&self) -> Result<String> {
        guard("httpAuthz", || {
            Ok(self
                .open("httpAuthz")?
                .shared
                .l7
                .http_authz
                .snapshot()
                .to_string())
        })
    }

    /// Retries and RequestMirror outcomes by route (`RouteStats::snapshot`), as JSON.
    #[napi]
    pub fn route_stats(&self) -> Result<String> {
        guard("routeStats", || {
            Ok(self
                .open("routeStats")?
                .shared
                .l7
                .route_stats
                .snapshot()
                .to_string())
        })
    }

    /// Takes up to `max` finished spans (oldest first) encoded as OTLP under `resourceJson` (an
    /// object of string attributes); the rest stay queued for the next call.
    #[napi]
    pub fn take_spans(&self, max: u32, resource_json: String) -> Result<SpanBatch> {
        guard("takeSpans", || {
            let q = &self.open("takeSpans")?.shared.l7.spans;
            let resource = resource_of(&resource_json)?;
            let spans = q.take(max as usize);
            Ok(SpanBatch {
                body: trace_otlp::encode(&resource, "nodemesh", &spans).into(),
                count: spans.len() as u32,
                dropped: q.dropped.load(std::sync::atomic::Ordering::Relaxed) as f64,
                recorded: q.recorded.load(std::sync::atomic::Ordering::Relaxed) as f64,
                queued: q.len() as f64,
            })
        })
    }

    /// Takes the JSON log lines queued since the last call, and how many were dropped in total.
    #[napi]
    pub fn take_log(&self) -> Result<LogBatch> {
        guard("takeLog", || {
            let l7 = &self.open("takeLog")?.shared.l7;
            Ok(LogBatch {
                lines: l7.take_log(),
                dropped: l7.log_dropped.load(std::sync::atomic::Ordering::Relaxed) as f64,
            })
        })
    }
}

#[napi]
impl Proxy {
    /// Turns the live tap on (at most `maxPerSecond` records a second, 0 = no cap) or off.
    #[napi]
    pub fn set_tap(&self, on: bool, max_per_second: u32) -> Result<()> {
        guard("setTap", || {
            self.open("setTap")?
                .shared
                .l7
                .tap
                .set(on, u64::from(max_per_second));
            Ok(())
        })
    }

    /// Takes the tap records (JSON lines) queued since the last call, and the drops in total.
    #[napi]
    pub fn take_tap(&self) -> Result<LogBatch> {
        guard("takeTap", || {
            let l7 = &self.open("takeTap")?.shared.l7;
            Ok(LogBatch {
                lines: l7.tap.take(),
                dropped: l7.tap.dropped.load(std::sync::atomic::Ordering::Relaxed) as f64,
            })
        })
    }
}

/// `SpanBatch` of native/index.ts: finished spans as one OTLP ExportTraceServiceRequest
/// (trace_otlp.rs), how many, and the queue's totals.
#[napi(object)]
pub struct SpanBatch {
    pub body: Buffer,
    pub count: u32,
    pub dropped: f64,
    pub recorded: f64,
    pub queued: f64,
}

/// `LogBatch` of native/index.ts.
#[napi(object)]
pub struct LogBatch {
    pub lines: Vec<String>,
    pub dropped: f64,
}
