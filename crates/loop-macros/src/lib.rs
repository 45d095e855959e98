//! `#[loop::main]` and `#[loop::test]`: an `async fn` run on a fresh event
//! loop. Use them through the facade (`#[r#loop::main]`, or after
//! `use r#loop as aio;`, `#[aio::main]`); the expansion names the facade as
//! `::r#loop`.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Runs `async fn main` on an event loop (asyncio's `asyncio.run(main())`).
///
/// ```
/// use r#loop as aio;
///
/// #[aio::main]
/// async fn main() -> std::io::Result<()> {
///     aio::sleep(std::time::Duration::from_millis(1)).await;
///     Ok(())
/// }
/// # fn _unused() {}
/// ```
///
/// Options, for a program that uses every core (a `LoopSet`: one loop per
/// thread; `main` runs on one of them, and the set is shut down when `main`
/// returns):
/// - `loops = N`: N loops;
/// - `all_cores`: one loop per available core.
///
/// `main`'s output must then be `Send` (it comes back from a loop thread);
/// its body need not be. Inside, `get_running_loop().set()` spawns on the
/// other loops.
///
/// ```
/// use r#loop as aio;
///
/// #[aio::main(loops = 2)]
/// async fn main() {
///     let set = aio::get_running_loop().set().expect("main runs on a loop of the set");
///     let on = set.on_each(|i| async move { (i, aio::get_running_loop().index()) }).unwrap();
///     for (i, task) in on.into_iter().enumerate() {
///         assert_eq!(task.await, Ok((i, Some(i))));
///     }
/// }
/// # fn _unused() {}
/// ```
///
/// For other settings build an `EventLoop` or a `LoopSet` yourself.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_or_report(args, item, Kind::Main)
}

/// Runs an `async fn` test on a fresh event loop, closed when the test ends.
///
/// Options, comma separated:
/// - `paused`: the paused clock (sleeps complete at once, in order);
/// - `debug`: debug mode (slow polls reported, every poll timed);
/// - `seed = N`: seeded scheduling (the tasks ready in a turn run in an
///   order drawn from `N`; see `Builder::seed`).
///
/// ```
/// use r#loop as aio;
/// use std::time::Duration;
///
/// #[aio::test(paused, seed = 7)]
/// async fn an_hour_passes_at_once() {
///     let start = aio::get_running_loop().time();
///     aio::sleep(Duration::from_secs(3600)).await;
///     assert_eq!(aio::get_running_loop().time() - start, Duration::from_secs(3600));
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_or_report(args, item, Kind::Test)
}

/// The expansion, or the error plus a stand-in for the function (same
/// name, not async, a body that never returns), so that the one error is
/// all the compiler reports: no "`main` not found", no errors from the body.
fn expand_or_report(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    match expand(args, item.clone(), kind) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let error = e.to_compile_error();
            let stand_in = syn::parse::<ItemFn>(item).ok().map(|mut f| {
                f.sig.asyncness = None;
                f.sig.inputs.clear();
                let (attrs, vis, sig) = (&f.attrs, &f.vis, &f.sig);
                quote! {
                    #(#attrs)*
                    #[allow(unreachable_code, unused)]
                    #vis #sig { ::core::panic!() }
                }
            });
            quote!(#error #stand_in).into()
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[loop::main]",
            Kind::Test => "#[loop::test]",
        }
    }
}

/// The loop settings a `#[loop::test]` or `#[loop::main]` asked for.
#[derive(Default)]
struct Options {
    paused: bool,
    debug: bool,
    seed: Option<Expr>,
    /// `#[loop::main]` on a `LoopSet`: `Some(None)` for `all_cores`,
    /// `Some(Some(n))` for `loops = n`.
    loops: Option<Option<Expr>>,
}

fn parse_options(args: TokenStream, kind: Kind) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse(args)?;
    let mut options = Options::default();
    for meta in metas {
        if kind == Kind::Main {
            match &meta {
                Meta::Path(p) if p.is_ident("all_cores") => options.loops = Some(None),
                Meta::NameValue(nv) if nv.path.is_ident("loops") => match &nv.value {
                    Expr::Lit(ExprLit { lit: Lit::Int(n), .. }) if n.base10_digits() != "0" => {
                        options.loops = Some(Some(nv.value.clone()))
                    }
                    other => {
                        return Err(syn::Error::new(other.span(), "`loops` takes a positive integer, e.g. `loops = 4`"))
                    }
                },
                _ => {
                    return Err(syn::Error::new(
                        meta.span(),
                        "unknown #[loop::main] option: expected `loops = N` or `all_cores` \
                         (for other settings build an `EventLoop` or a `LoopSet` yourself)",
                    ))
                }
            }
            continue;
        }
        match &meta {
            Meta::Path(p) if p.is_ident("paused") => options.paused = true,
            Meta::Path(p) if p.is_ident("debug") => options.debug = true,
            Meta::NameValue(nv) if nv.path.is_ident("seed") => match &nv.value {
                Expr::Lit(ExprLit { lit: Lit::Int(_), .. }) => options.seed = Some(nv.value.clone()),
                other => return Err(syn::Error::new(other.span(), "`seed` takes an integer, e.g. `seed = 7`")),
            },
            _ => {
                return Err(syn::Error::new(
                    meta.span(),
                    "unknown #[loop::test] option: expected `paused`, `debug` or `seed = N`",
                ))
            }
        }
    }
    Ok(options)
}

fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> syn::Result<proc_macro2::TokenStream> {
    let options = parse_options(args, kind)?;
    let mut f: ItemFn = syn::parse(item)?;
    let sig = &f.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!("{} goes on an `async fn`: add `async` before `fn`", kind.name()),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(sig.inputs.span(), format!("{} functions take no arguments", kind.name())));
    }
    if kind == Kind::Main && sig.ident != "main" {
        return Err(syn::Error::new(sig.ident.span(), "#[loop::main] goes on `async fn main`"));
    }
    f.sig.asyncness = None;
    let body = &f.block;
    let output = match &f.sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, ty) => quote!(#ty),
    };
    // The body becomes an `async move` block: spanned at the body, so an
    // error inside it points at the user's code.
    let run = match kind {
        Kind::Main if options.loops.is_some() => {
            let loops = options.loops.as_ref().and_then(|n| n.as_ref()).map(|n| quote!(.loops(#n)));
            quote_spanned! {body.span()=>
                {
                    let set = ::r#loop::LoopSet::builder() #loops
                        .build()
                        .expect("#[loop::main]: could not start the loops");
                    let out: #output = set.block_on_fn(move || async move #body);
                    if let ::core::result::Result::Err(e) = set.shutdown() {
                        ::std::eprintln!("#[loop::main]: {e}");
                    }
                    out
                }
            }
        }
        Kind::Main => quote_spanned! {body.span()=>
            ::r#loop::run(async move #body)
        },
        Kind::Test => {
            let paused = options.paused.then(|| quote!(.paused_clock()));
            let debug = options.debug.then(|| quote!(.debug(true)));
            let seed = options.seed.as_ref().map(|s| quote!(.seed(#s)));
            quote_spanned! {body.span()=>
                {
                    let ev = ::r#loop::EventLoop::builder() #paused #debug #seed
                        .build()
                        .expect("#[loop::test]: could not create the event loop");
                    let out: #output = ev.run_until_complete(async move #body);
                    ev.close();
                    out
                }
            }
        }
    };
    let attrs = &f.attrs;
    let vis = &f.vis;
    let sig = &f.sig;
    let test_attr = (kind == Kind::Test).then(|| quote_spanned!(Span::call_site()=> #[::core::prelude::v1::test]));
    Ok(quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #run
        }
    })
}
