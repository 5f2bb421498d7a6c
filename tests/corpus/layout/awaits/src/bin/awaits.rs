//! One async fn per await case; each leaf is a distinct async fn so that every state's
//! awaitee names the call it came from.
#![allow(clippy::all, dead_code, unreachable_code, unused)]

use std::future::Future;
use std::time::Duration;

async fn a() -> u32 { tokio::task::yield_now().await; 1 }
async fn b() -> u32 { tokio::task::yield_now().await; 2 }
async fn c() -> u32 { tokio::task::yield_now().await; 3 }
async fn d(x: u32) -> u32 { tokio::task::yield_now().await; x }
async fn ta() -> Result<u32, String> { tokio::task::yield_now().await; Ok(1) }

async fn case_straight() -> u32 {
    let x = a().await;
    let y = b().await;
    let z = c().await;
    x + y + z
}

async fn case_binop() -> u32 {
    a().await + b().await * c().await
}

async fn case_args() -> u32 {
    d(a().await).await + d(b().await).await
}

async fn case_if(f: bool) -> u32 {
    let v = if f { a().await } else { b().await };
    v + c().await
}

async fn case_match(n: u8) -> u32 {
    match n {
        0 => a().await,
        1 => b().await,
        _ => {
            let x = c().await;
            d(x).await
        }
    }
}

async fn case_match_scrutinee() -> u32 {
    match a().await {
        1 => b().await,
        _ => c().await,
    }
}

async fn case_loop() -> u32 {
    let mut n = 0;
    loop {
        n += a().await;
        if n > 3 {
            break;
        }
    }
    n + b().await
}

async fn case_while_let(mut rx: tokio::sync::mpsc::Receiver<u32>) -> u32 {
    let mut t = 0;
    while let Some(x) = rx.recv().await {
        t += d(x).await;
    }
    t
}

async fn case_for() -> u32 {
    let mut t = 0;
    for i in 0..3 {
        t += d(i).await;
    }
    t + a().await
}

async fn case_try() -> Result<u32, String> {
    let x = ta().await?;
    let y = ta().await.map_err(|e| e + "!")?;
    Ok(x + y + a().await)
}

async fn case_nested_blocks() -> u32 {
    let x = {
        let y = a().await;
        {
            b().await + y
        }
    };
    x + c().await
}

async fn case_early_return(f: bool) -> u32 {
    if f {
        return a().await;
    }
    let v = b().await;
    v + c().await
}

async fn case_unreachable_return() -> u32 {
    let v = a().await;
    return v;
    b().await
}

async fn case_unreachable_loop() -> u32 {
    let v = a().await;
    loop {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    b().await + v
}

async fn case_sleep() -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    let v = a().await;
    tokio::time::sleep(Duration::from_millis(v as u64)).await;
    v
}

async fn case_select() -> u32 {
    let x = a().await;
    let y = tokio::select! {
        v = b() => v,
        v = c() => v + 1,
    };
    x + y + d(y).await
}

async fn case_join() -> u32 {
    let (x, y) = tokio::join!(a(), b());
    x + y + c().await
}

#[tracing::instrument]
async fn case_instrument(n: u32) -> u32 {
    let x = a().await;
    x + d(n).await
}

fn make_closure() -> impl Fn(u32) -> std::pin::Pin<Box<dyn Future<Output = u32> + Send>> {
    |x| Box::pin(async move { d(x).await + a().await })
}

async fn case_closure() -> u32 {
    let f = |x: u32| async move {
        let y = d(x).await;
        y + b().await
    };
    let v = f(1).await;
    v + make_closure()(2).await
}

async fn case_async_closure() -> u32 {
    let k = 3u32;
    let f = async move |x: u32| {
        let y = d(x + k).await;
        y + c().await
    };
    f(1).await
}

async fn case_inner_block() -> u32 {
    let blk = async {
        let x = b().await;
        x + c().await
    };
    let v = a().await;
    v + blk.await
}

async fn case_generic<T: Default + Send + std::fmt::Debug>(t: T) -> u32 {
    let v = a().await;
    drop(t);
    v + b().await
}

async fn case_boxed() -> u32 {
    let big = async {
        let buf = [0u8; 4096];
        let v = a().await;
        v + buf[v as usize] as u32
    };
    Box::pin(big).await + b().await
}

macro_rules! await_twice {
    ($e:expr) => {
        $e.await + $e.await
    };
}

async fn case_macro() -> u32 {
    let v = a().await;
    v + await_twice!(b())
}

trait Handler {
    async fn serve(&self) -> u32;
    async fn default_serve(&self) -> u32 {
        let v = a().await;
        v + self.serve().await
    }
}

struct S(u32);

impl Handler for S {
    async fn serve(&self) -> u32 {
        let v = b().await;
        v + self.0 + c().await
    }
}

impl S {
    async fn inherent(&self) -> u32 {
        let v = self.serve().await;
        v + self.default_serve().await
    }
}

mod sub {
    pub async fn in_mod() -> u32 {
        let v = super::a().await;
        v + inner::deeper().await
    }
    pub mod inner {
        pub async fn deeper() -> u32 {
            super::super::b().await
        }
    }
}

async fn case_assign() -> u32 {
    let mut arr = [0u32; 4];
    arr[a().await as usize] = b().await;
    let mut n = 1u32;
    n += c().await;
    arr[1] + n
}

async fn case_let_else() -> u32 {
    let Some(x) = Some(a().await) else {
        return b().await;
    };
    x + c().await
}

async fn case_chain() -> u32 {
    let s = ta().await.unwrap_or(0).max(a().await);
    s
}

async fn case_timeout() -> u32 {
    match tokio::time::timeout(Duration::from_millis(5), a()).await {
        Ok(v) => v + b().await,
        Err(_) => 0,
    }
}


struct Pair {
    x: u32,
    y: u32,
}

async fn case_struct_lit() -> u32 {
    let p = Pair { y: b().await, x: a().await };
    p.x + p.y
}

async fn case_method_args() -> u32 {
    a().await.max(b().await).min(c().await)
}

async fn case_array_tuple() -> u32 {
    let arr = [a().await, b().await];
    let (x, y) = (c().await, d(1).await);
    arr[0] + x + y
}

async fn case_if_let() -> u32 {
    if let Some(x) = Some(a().await) {
        x + b().await
    } else {
        c().await
    }
}

async fn case_guard(n: u32) -> u32 {
    match n {
        k if a().await > k => b().await,
        _ => c().await,
    }
}

async fn case_while_cond() -> u32 {
    let mut n = 0;
    while a().await + n < 5 {
        n += b().await;
    }
    n
}

async fn case_labeled(f: bool) -> u32 {
    let v = 'l: {
        if f {
            break 'l a().await;
        }
        b().await
    };
    v + c().await
}

async fn case_lazy_bool() -> bool {
    a().await > 0 && b().await > 0 || c().await > 0
}

async fn case_let_else_plain() -> u32 {
    let Some(x) = Some(a().await) else {
        return 0;
    };
    x + b().await
}

async fn case_let_else_panic() -> u32 {
    let Some(x) = Some(a().await) else {
        panic!("none");
    };
    x + b().await
}

async fn case_immediate_block() -> u32 {
    let v = async { a().await }.await;
    v + b().await
}

async fn case_compound_field() -> u32 {
    let mut p = Pair { x: 0, y: 0 };
    p.x += a().await;
    p.y = b().await + p.x;
    p.y
}

async fn case_spawned() -> u32 {
    let h = tokio::spawn(async move {
        let v = a().await;
        v + b().await
    });
    h.await.unwrap_or(0)
}

async fn case_recursive_box(n: u32) -> u32 {
    if n == 0 {
        return a().await;
    }
    Box::pin(case_recursive_box(n - 1)).await + b().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    drop(tx);
    let mut t = 0;
    t += case_straight().await;
    t += case_binop().await;
    t += case_args().await;
    t += case_if(true).await;
    t += case_match(2).await;
    t += case_match_scrutinee().await;
    t += case_loop().await;
    t += case_while_let(rx).await;
    t += case_for().await;
    t += case_try().await.unwrap_or(0);
    t += case_nested_blocks().await;
    t += case_early_return(false).await;
    t += case_unreachable_return().await;
    t += case_sleep().await;
    t += case_select().await;
    t += case_join().await;
    t += case_instrument(4).await;
    t += case_closure().await;
    t += case_async_closure().await;
    t += case_inner_block().await;
    t += case_generic(5u32).await;
    t += case_generic(String::from("x")).await;
    t += case_boxed().await;
    t += case_macro().await;
    t += S(1).inherent().await;
    t += sub::in_mod().await;
    t += case_assign().await;
    t += case_let_else().await;
    t += case_chain().await;
    t += case_timeout().await;
    t += asyncmem_corpus_awaits::lib_spawn(a()).await.unwrap_or(0);
    t += asyncmem_corpus_awaits::lib_block(b()).await.unwrap_or(0);
    t += asyncmem_corpus_awaits::lib_wrap(c()).await;
    let h = tokio::spawn(case_boxed());
    t += h.await.unwrap_or(0);
    if t == 12345 {
        t += case_unreachable_loop().await;
    }
    t += case_struct_lit().await;
    t += case_method_args().await;
    t += case_array_tuple().await;
    t += case_if_let().await;
    t += case_guard(1).await;
    t += case_while_cond().await;
    t += case_labeled(true).await;
    t += case_lazy_bool().await as u32;
    t += case_let_else_plain().await;
    t += case_let_else_panic().await;
    t += case_immediate_block().await;
    t += case_compound_field().await;
    t += case_spawned().await;
    t += case_recursive_box(2).await;
    t += asyncmem_corpus_awaits::lib_async_spawn(c()).await;
    println!("{t}");
}
