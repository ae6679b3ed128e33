//! A response or request body fed through a channel: the way streamed answers are relayed.
//!
//! It has no known length, so hyper frames it chunked, as Go does for a flushed response.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// A body whose chunks arrive over a channel; it ends when every sender is dropped.
#[derive(Debug)]
pub struct ChannelBody {
    chunks: mpsc::Receiver<Bytes>,
}

impl ChannelBody {
    /// A body and the sender that feeds it, holding up to `capacity` chunks in flight.
    pub fn channel(capacity: usize) -> (mpsc::Sender<Bytes>, ChannelBody) {
        let (sender, chunks) = mpsc::channel(capacity.max(1));
        (sender, ChannelBody { chunks })
    }

    /// A body of one chunk whose length is not announced (so it is sent chunked).
    pub fn once(chunk: Bytes) -> ChannelBody {
        let (sender, body) = ChannelBody::channel(1);
        if !chunk.is_empty() {
            // Cannot fail: the channel is new, empty and its receiver alive.
            let _ = sender.try_send(chunk);
        }
        body
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.chunks
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn channel_body_yields_chunks_in_order_and_ends_when_senders_drop() {
        let (sender, body) = ChannelBody::channel(4);
        sender.send(Bytes::from_static(b"ab")).await.unwrap();
        sender.send(Bytes::from_static(b"cd")).await.unwrap();
        drop(sender);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, Bytes::from_static(b"abcd"));
    }

    #[test]
    fn channel_body_has_no_known_length() {
        let body = ChannelBody::once(Bytes::from_static(b"x"));
        assert_eq!(body.size_hint().exact(), None);
    }
}
