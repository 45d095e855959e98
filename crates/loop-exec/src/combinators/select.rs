//! `select!`: the first of several futures wins; the others are dropped.

/// Waits for the first of several futures and runs that branch's code;
/// the other futures are dropped (cancelled). Branches are polled in the
/// order written (biased): when several are ready at once the first wins.
///
/// Each branch is `pattern = future => expression`; patterns must be
/// irrefutable. The whole `select!` is an expression (it awaits, so use it
/// in async code).
///
/// ```
/// use r#loop as aio;
/// use r#loop::{select, sleep};
/// use std::time::Duration;
///
/// let ev = aio::EventLoop::builder().paused_clock().build()?;
/// let winner = ev.run_until_complete(async {
///     select! {
///         () = sleep(Duration::from_secs(5)) => "slow",
///         n = async { sleep(Duration::from_secs(1)).await; 7 } => if n == 7 { "fast" } else { "?" },
///     }
/// });
/// assert_eq!(winner, "fast");
/// # Ok::<(), std::io::Error>(())
/// ```
#[macro_export]
macro_rules! select {
    ($($pat:pat = $future:expr => $body:expr),+ $(,)?) => {
        $crate::__select!(@munch [] [
            __S0 __S1 __S2 __S3 __S4 __S5 __S6 __S7 __S8 __S9 __S10 __S11
        ] $($pat = $future => $body,)+)
    };
}

/// Implementation detail of `select!`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select {
    (@munch [$($done:tt)*] [$next:ident $($ids:ident)*] $pat:pat = $future:expr => $body:expr, $($rest:tt)*) => {
        $crate::__select!(@munch [$($done)* ($next, $pat, $future, $body)] [$($ids)*] $($rest)*)
    };
    (@munch [$(($id:ident, $pat:pat, $future:expr, $body:expr))*] [$($ids:ident)*]) => {{
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        enum __Branch<$($id),*> { $($id($id)),* }
        #[allow(non_snake_case)]
        let __out = {
            $( let mut $id = ::core::pin::pin!($future); )*
            ::core::future::poll_fn(|cx| {
                $(
                    if let ::core::task::Poll::Ready(v) = ::core::future::Future::poll($id.as_mut(), cx) {
                        return ::core::task::Poll::Ready(__Branch::$id(v));
                    }
                )*
                ::core::task::Poll::Pending
            })
            .await
        };
        match __out {
            $( __Branch::$id($pat) => $body, )*
        }
    }};
    (@munch [$($done:tt)*] [] $($rest:tt)+) => {
        ::core::compile_error!("select! takes at most 12 branches")
    };
}
