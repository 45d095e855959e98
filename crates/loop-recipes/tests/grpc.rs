//! gRPC with tonic natively on `loop`: tonic without its transport
//! features (which need tokio's runtime). The server is a tower service
//! (what tonic-build generates; written out here, so no `protoc` is
//! needed) served by `loop::hyper::serve_tower`; the client is tonic's
//! `Grpc` over `loop::hyper::http2_client()`, what generated clients take
//! with `with_origin`.

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

const SAY_HELLO: &str = "/helloworld.Greeter/SayHello";

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The server side of `helloworld.Greeter`, as tonic-build writes it.
#[derive(Clone)]
struct GreeterServer;

/// `SayHello`: "Hello {name}!" after a `loop` sleep (the handler runs on
/// the loop); an empty name is `INVALID_ARGUMENT`.
struct SayHello;

impl tonic::server::UnaryService<HelloRequest> for SayHello {
    type Response = HelloReply;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<HelloReply>, tonic::Status>>>>;

    fn call(&mut self, request: tonic::Request<HelloRequest>) -> Self::Future {
        Box::pin(async move {
            let name = request.into_inner().name;
            if name.is_empty() {
                return Err(tonic::Status::invalid_argument("name is empty"));
            }
            aio::sleep(std::time::Duration::from_millis(1)).await;
            Ok(tonic::Response::new(HelloReply { message: format!("Hello {name}!") }))
        })
    }
}

impl<B> tower_service::Service<http::Request<B>> for GreeterServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() == SAY_HELLO {
            Box::pin(async move { Ok(tonic::server::Grpc::new(ProstCodec::default()).unary(SayHello, req).await) })
        } else {
            Box::pin(async { Ok(tonic::Status::unimplemented("no such method").into_http()) })
        }
    }
}

/// One call of `method` through a client made by `http2_client`.
fn say_hello(
    grpc: &tonic::client::Grpc<hyper_util::client::legacy::Client<aio::hyper::Connector, tonic::body::Body>>,
    method: &'static str,
    name: &str,
) -> BoxFuture<Result<String, tonic::Status>> {
    let mut grpc = grpc.clone();
    let request = tonic::Request::new(HelloRequest { name: name.into() });
    Box::pin(async move {
        grpc.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = http::uri::PathAndQuery::from_static(method);
        let reply: tonic::Response<HelloReply> = grpc.unary(request, path, ProstCodec::default()).await?;
        Ok(reply.into_inner().message)
    })
}

use aio::hyper::{hyper_util, tower_service};

#[test]
fn a_tonic_service_and_client_on_one_loop() {
    let _watchdog = loop_tests::watchdog();
    aio::run(async {
        let listener = aio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::rc::Rc::new(aio::sync::Event::new());
        let s = stop.clone();
        let server = aio::spawn(aio::hyper::serve_tower(listener, GreeterServer, async move { s.wait().await }));

        let client = aio::hyper::http2_client::<tonic::body::Body>();
        let grpc = tonic::client::Grpc::with_origin(client, format!("http://{addr}").parse().unwrap());
        assert_eq!(say_hello(&grpc, SAY_HELLO, "loop").await.unwrap(), "Hello loop!");

        // 50 calls at once, multiplexed on the HTTP/2 connection.
        let names: Vec<String> = (0..50).map(|i| format!("n{i}")).collect();
        let replies = aio::try_gather(names.iter().map(|n| say_hello(&grpc, SAY_HELLO, n))).await.unwrap();
        assert_eq!(replies, names.iter().map(|n| format!("Hello {n}!")).collect::<Vec<_>>());

        // Statuses come back as statuses.
        let invalid = say_hello(&grpc, SAY_HELLO, "").await.unwrap_err();
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        assert_eq!(invalid.message(), "name is empty");
        let missing = say_hello(&grpc, "/helloworld.Greeter/Nope", "x").await.unwrap_err();
        assert_eq!(missing.code(), tonic::Code::Unimplemented);

        stop.set();
        server.await.unwrap().unwrap();
    });
}
