//! The probe's own gRPC services beside console-api's `Instrument` (`Dump`, `Heap`): each one
//! server-streaming method, hand-written as a tower service, as the probe builds without protoc.
//! A method says its service's name and its path ([`Method`]); [`Routed`] serves it.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::{NamedService, ServerStreamingService};
use tonic::Status;

/// One server-streaming method of a service of its own.
pub(crate) trait Method:
    ServerStreamingService<Self::Request> + Clone + Send + 'static
{
    /// The service's full name (`asyncmem.probe.Dump`).
    const SERVICE: &'static str;
    /// The method's path (`/asyncmem.probe.Dump/TakeDump`); any other is unimplemented.
    const PATH: &'static str;
    type Request: prost::Message + Default + Send + 'static;
}

/// `M` as a service the probe's router takes.
#[derive(Clone)]
pub(crate) struct Routed<M>(pub(crate) M);

impl<M: Method> NamedService for Routed<M> {
    const NAME: &'static str = M::SERVICE;
}

impl<M, B> Service<http::Request<B>> for Routed<M>
where
    M: Method,
    M::Response: prost::Message + Send + 'static,
    M::ResponseStream: Send,
    M::Future: Send,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != M::PATH {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let method = self.0.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.server_streaming(method, req).await)
        })
    }
}
