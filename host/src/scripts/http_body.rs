//! A bot's HTTP bodies as they stream through the host: capped in bytes,
//! and a response's in time too.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, WasiBody};

/// A body cut with an error once more than `max` bytes went through it;
/// with `timed`, also once it waits past its request's deadline or, if the
/// guest asked for one, longer than its between-bytes timeout.
pub struct Capped {
    inner: WasiBody,
    seen: u64,
    max: u64,
    over: fn(Option<u64>) -> Error,
    deadline: Option<Instant>,
    between_bytes: Option<Duration>,
    /// Fires at the deadline, or when the wait between frames is too long,
    /// whichever is sooner.
    timer: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl Capped {
    pub fn new(inner: WasiBody, max: u64, over: fn(Option<u64>) -> Error) -> Capped {
        Capped {
            inner,
            seen: 0,
            max,
            over,
            deadline: None,
            between_bytes: None,
            timer: None,
            failed: false,
        }
    }

    /// Bounds the wait for each frame by `deadline`, and by
    /// `between_bytes` after the last one.
    pub fn timed(mut self, deadline: Instant, between_bytes: Option<Duration>) -> Capped {
        self.deadline = Some(deadline);
        self.between_bytes = between_bytes;
        self.timer = Some(Box::pin(tokio::time::sleep_until(
            self.next_wake(Instant::now()),
        )));
        self
    }

    fn next_wake(&self, now: Instant) -> Instant {
        let deadline = self.deadline.unwrap_or(now);
        match self.between_bytes.and_then(|d| now.checked_add(d)) {
            Some(idle) => idle.min(deadline),
            None => deadline,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.seen = self.seen.saturating_add(len);
                if self.seen > self.max {
                    self.failed = true;
                    return Poll::Ready(Some(Err((self.over)(Some(self.seen)))));
                }
                let wake = self.next_wake(Instant::now());
                if let Some(timer) = &mut self.timer {
                    timer.as_mut().reset(wake);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            // Past the deadline the connection is closed (`http_client`),
            // which the body reports as its own error: it is the deadline's.
            Poll::Ready(Some(Err(e))) => {
                self.failed = true;
                let e = if self.past_deadline() {
                    Error::HttpResponseTimeout
                } else {
                    e
                };
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let late = match &mut self.timer {
                    Some(t) => t.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if !late {
                    return Poll::Pending;
                }
                self.failed = true;
                let e = if self.past_deadline() {
                    Error::HttpResponseTimeout
                } else {
                    Error::ConnectionReadTimeout
                };
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};
    use tokio::sync::mpsc;

    fn chunks(n: usize, size: usize) -> WasiBody {
        let frames =
            (0..n).map(move |_| Ok::<_, Error>(Frame::data(Bytes::from(vec![b'x'; size]))));
        StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
    }

    async fn collect(body: Capped) -> Result<usize, Error> {
        body.collect().await.map(|c| c.to_bytes().len())
    }

    #[tokio::test]
    async fn a_body_is_cut_once_past_its_cap() {
        let capped = |body, max| Capped::new(body, max, Error::HttpResponseBodySize);
        assert_eq!(collect(capped(chunks(4, 10), 40)).await.unwrap(), 40);
        match collect(capped(chunks(4, 10), 39)).await {
            Err(Error::HttpResponseBodySize(Some(40))) => {}
            other => panic!("{other:?}"),
        }
        let full = Full::new(Bytes::from_static(b"hello"))
            .map_err(|e| match e {})
            .boxed_unsync();
        assert!(matches!(
            collect(Capped::new(full, 4, Error::HttpRequestBodySize)).await,
            Err(Error::HttpRequestBodySize(Some(5)))
        ));
    }

    /// A body fed by hand: frames or errors sent on the channel, and no
    /// end while the sender is kept.
    fn fed() -> (mpsc::Sender<Result<Frame<Bytes>, Error>>, WasiBody) {
        let (tx, mut rx) = mpsc::channel(4);
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        (tx, StreamBody::new(stream).boxed_unsync())
    }

    fn data(s: &'static str) -> Result<Frame<Bytes>, Error> {
        Ok(Frame::data(Bytes::from_static(s.as_bytes())))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_past_the_deadline_fails() {
        let (tx, body) = fed();
        tx.send(data("first")).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut capped = Capped::new(body, 1000, Error::HttpResponseBodySize).timed(deadline, None);
        let first = capped.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "first");
        assert!(matches!(
            capped.frame().await,
            Some(Err(Error::HttpResponseTimeout))
        ));
        assert_eq!(Instant::now(), deadline);
        assert!(capped.frame().await.is_none());
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_between_frames_is_bounded_by_the_guest_s_timeout() {
        let (tx, body) = fed();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(10);
        let idle = Some(Duration::from_secs(2));
        let mut capped = Capped::new(body, 1000, Error::HttpResponseBodySize).timed(deadline, idle);
        tokio::time::sleep(Duration::from_secs(1)).await;
        tx.send(data("a")).await.unwrap();
        assert!(capped.frame().await.unwrap().is_ok());
        // Two seconds from the last frame, not from the start.
        assert!(matches!(
            capped.frame().await,
            Some(Err(Error::ConnectionReadTimeout))
        ));
        assert_eq!(Instant::now(), start + Duration::from_secs(3));
        drop(tx);
    }

    /// Past the deadline the client closes the connection, and hyper ends
    /// the body with an error of its own: the bot is told the deadline's.
    #[tokio::test(start_paused = true)]
    async fn an_error_past_the_deadline_is_the_deadline_s() {
        let (tx, body) = fed();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut capped = Capped::new(body, 1000, Error::HttpResponseBodySize).timed(deadline, None);
        tokio::time::sleep(Duration::from_secs(2)).await;
        tx.send(Err(Error::HttpResponseIncomplete)).await.unwrap();
        assert!(matches!(
            capped.frame().await,
            Some(Err(Error::HttpResponseTimeout))
        ));
        // Before it, an error is the body's own; and what arrived in time
        // is still read.
        let (tx, body) = fed();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut capped = Capped::new(body, 1000, Error::HttpResponseBodySize).timed(deadline, None);
        tx.send(data("in time")).await.unwrap();
        tx.send(Err(Error::HttpResponseIncomplete)).await.unwrap();
        assert!(capped.frame().await.unwrap().is_ok());
        assert!(matches!(
            capped.frame().await,
            Some(Err(Error::HttpResponseIncomplete))
        ));
    }
}
