//! The response body as it streams to the client, recording the golden metrics once it ends: the
//! HTTP status, the gRPC status (trailers, or the headers of a trailers-only response) and the
//! latency to the response headers. A body dropped early (client gone) is recorded as it stood;
//! one still streaming at the route's `timeouts.request` deadline is cut (recorded as a 504).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};

use super::metrics::Series;
use super::upstream::{Body as ProxyBody, BoxError};

/// The grpc-status of a header map, if it has one.
pub fn grpc_status(h: &HeaderMap) -> Option<u32> {
    h.get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok())
}

pub struct Observed {
    inner: ProxyBody,
    series: Option<Arc<Series>>,
    status: u16,
    grpc: Option<u32>,
    latency: Duration,
    /// `timeouts.request` covers the whole exchange: the body too
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Observed {
    pub fn new(
        inner: ProxyBody,
        series: Arc<Series>,
        status: u16,
        grpc: Option<u32>,
        latency: Duration,
    ) -> Observed {
        let mut o = Observed {
            inner,
            series: Some(series),
            status,
            grpc,
            latency,
            deadline: None,
        };
        if o.inner.is_end_stream() {
            o.record();
        }
        o
    }

    /// Cut the body at `at` (the request's deadline), if any and if it has not ended by then.
    pub fn with_deadline(mut self, at: Option<Instant>) -> Observed {
        if self.series.is_some() {
            self.deadline = at.map(|t| Box::pin(tokio::time::sleep_until(t.into())));
        }
        self
    }

    fn record(&mut self) {
        if let Some(s) = self.series.take() {
            s.response(self.status, self.grpc, self.latency);
        }
    }
}

impl Body for Observed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(d) = self.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                self.deadline = None;
                if self.series.is_some() {
                    // the head went out already: the client sees the body end early (HTTP/1.1
                    // connection closed, h2 stream reset)
                    self.status = 504;
                    self.record();
                    return Poll::Ready(Some(Err(BoxError::from(
                        "MESH_ERR_REQUEST_TIMEOUT: the response body did not end within timeouts.request",
                    ))));
                }
            }
        }
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(t) = f.trailers_ref() {
                    if let Some(g) = grpc_status(t) {
                        self.grpc = Some(g);
                    }
                }
                if self.inner.is_end_stream() {
                    self.record();
                }
            }
            Poll::Ready(None) => self.record(),
            Poll::Ready(Some(Err(_))) => {
                // the upstream broke mid-body: a failure whatever the head said
                if self.status < 500 {
                    self.status = 502;
                }
                self.record();
            }
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.record();
    }
}
