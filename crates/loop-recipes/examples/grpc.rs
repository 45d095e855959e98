//! gRPC with tonic natively on `loop`: tonic without its `transport`
//! feature (which needs tokio's runtime); `loop::hyper::serve_tower`
//! serves the service and `loop::hyper::http2_client()` carries the calls.
//!
//! With tonic-build, `GreeterServer::new(..)` is the tower service given
//! to `serve_tower`, and `GreeterClient::with_origin(aio::hyper::http2_client(), uri)`
//! the client. This example writes the server's dispatch out (as
//! tonic-build would), so it builds without `protoc`.
//!
//! ```text
//! cargo run -p loop-recipes --example grpc
//! ```

use aio::hyper::tower_service::Service;
use r#loop as aio;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::codegen::http;
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

/// The `SayHello` handler.
struct SayHello;

impl tonic::server::UnaryService<HelloRequest> for SayHello {
    type Response = HelloReply;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<HelloReply>, tonic::Status>>>>;

    fn call(&mut self, request: tonic::Request<HelloRequest>) -> Self::Future {
        let name = request.into_inner().name;
        Box::pin(async move { Ok(tonic::Response::new(HelloReply { message: format!("Hello {name}!") })) })
    }
}

/// `helloworld.Greeter`, dispatched by path (what tonic-build generates).
#[derive(Clone)]
struct Greeter;

impl<B> Service<http::Request<B>> for Greeter
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match req.uri().path() {
            "/helloworld.Greeter/SayHello" => {
                Box::pin(async move { Ok(tonic::server::Grpc::new(ProstCodec::default()).unary(SayHello, req).await) })
            }
            _ => Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) }),
        }
    }
}

#[aio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = aio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = std::rc::Rc::new(aio::sync::Event::new());
    let s = stop.clone();
    let server = aio::spawn(aio::hyper::serve_tower(listener, Greeter, async move { s.wait().await }));

    let mut client = tonic::client::Grpc::with_origin(aio::hyper::http2_client(), format!("http://{addr}").parse()?);
    client.ready().await?;
    let path = http::uri::PathAndQuery::from_static("/helloworld.Greeter/SayHello");
    let request = tonic::Request::new(HelloRequest { name: "loop".into() });
    let reply: tonic::Response<HelloReply> = client.unary(request, path, ProstCodec::default()).await?;
    println!("{}", reply.get_ref().message);
    assert_eq!(reply.into_inner().message, "Hello loop!");

    stop.set();
    server.await??;
    Ok(())
}
