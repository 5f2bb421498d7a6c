//! The `.await`s of one coroutine body in the order rustc numbers its suspend states.
//!
//! Measured (rustc 1.95, debug and release alike, corpus `tests/corpus/layout/awaits`): the
//! `SuspendN` numbering follows evaluation order, which is the source order of the `await`
//! keywords except that an assignment's right side comes before its left side, and a
//! `let .. else`'s `else` block before its initializer. Awaits in code after a `return`,
//! `break`, `continue`, `panic!`-like macro or a `loop` without `break` get no state.
//! Nested async blocks, closures and items are other coroutines and are not descended into;
//! tokio's `select!`, `join!` and `try_join!` are one await each (of a `PollFn`).
//! What the walk cannot see into (another macro that may expand to `.await`s, a `#[cfg]` on
//! code that awaits, a compound assignment awaiting on both sides) is an error: the caller
//! marks the coroutine unmapped rather than guess.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::visit::Visit;
use syn::{Attribute, BinOp, Block, Expr, Macro, Stmt};

/// One suspend point in the source: 1-based line and column (in chars, as rustc counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Point {
    pub line: u32,
    pub col: u32,
    pub site: Site,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Site {
    /// `expr.await`: the awaited call's name (`read_frame` of `self.read_frame(..)` or of
    /// `conn::read_frame(..)`) and, for `async { .. }.await`, where that block starts.
    Await {
        callee: Option<String>,
        block_at: Option<(u32, u32)>,
    },
    /// tokio's `select!` / `join!` / `try_join!`, at the macro's name: one await.
    Macro { name: String },
}

/// Macros that expand to no `.await` and no closure (std's formatting and assertions, ...).
const INERT_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "cfg",
    "column",
    "compile_error",
    "concat",
    "dbg",
    "env",
    "eprint",
    "eprintln",
    "file",
    "format",
    "format_args",
    "include_bytes",
    "include_str",
    "line",
    "matches",
    "module_path",
    "option_env",
    "panic",
    "print",
    "println",
    "stringify",
    "todo",
    "unimplemented",
    "unreachable",
    "vec",
    "write",
    "writeln",
];

/// Macros after which the code is unreachable (they expand to a call returning `!`).
const DIVERGING_MACROS: &[&str] = &["panic", "todo", "unimplemented", "unreachable"];

/// tokio's macros that are one `.await` of a `PollFn` (measured for `select!` and `join!`).
const TOKIO_AWAIT_MACROS: &[&str] = &["select", "join", "try_join"];

pub(crate) fn macro_name(mac: &Macro) -> String {
    mac.path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

pub(crate) fn is_inert_macro(name: &str) -> bool {
    INERT_MACROS.contains(&name)
}

/// 1-based (line, column) of a span's start.
pub(crate) fn start(span: Span) -> (u32, u32) {
    let lc = span.start();
    (
        u32::try_from(lc.line).unwrap_or(u32::MAX),
        u32::try_from(lc.column + 1).unwrap_or(u32::MAX),
    )
}

/// True when the tokens hold the identifier `await` (at any depth).
pub(crate) fn tokens_await(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == "await",
        TokenTree::Group(g) => tokens_await(&g.stream()),
        _ => false,
    })
}

/// The awaits of a block (an async fn's or async block's body) in suspend-state order.
pub(crate) fn block_points(
    block: &Block,
    free_macros: &HashSet<String>,
) -> Result<Vec<Point>, String> {
    let mut w = Walker::new(free_macros);
    w.visit_block(block);
    w.finish()
}

/// The awaits of an expression (an async closure's body) in suspend-state order.
pub(crate) fn expr_points(
    expr: &Expr,
    free_macros: &HashSet<String>,
) -> Result<Vec<Point>, String> {
    let mut w = Walker::new(free_macros);
    w.visit_expr(expr);
    w.finish()
}

struct Walker<'m> {
    points: Vec<Point>,
    problem: Option<String>,
    /// Macros the crate defines whose definitions hold no `.await` and call no other macro
    /// but inert ones.
    free_macros: &'m HashSet<String>,
}

impl<'m> Walker<'m> {
    fn new(free_macros: &'m HashSet<String>) -> Self {
        Self {
            points: Vec::new(),
            problem: None,
            free_macros,
        }
    }

    fn finish(self) -> Result<Vec<Point>, String> {
        match self.problem {
            Some(p) => Err(p),
            None => Ok(self.points),
        }
    }

    fn fail(&mut self, why: String) {
        if self.problem.is_none() {
            self.problem = Some(why);
        }
    }

    /// A `#[cfg]` on code that awaits: whether it is compiled is not known here.
    fn check_cfg(&mut self, attrs: &[Attribute], awaits: impl FnOnce() -> bool) {
        if let Some(attr) = attrs
            .iter()
            .find(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
        {
            if awaits() {
                let (line, col) = start(attr.pound_token.span);
                self.fail(format!(
                    "a #[cfg] at line {line}:{col} is on code that awaits; whether it is compiled is not known"
                ));
            }
        }
    }
}

fn callee_of(base: &Expr) -> (Option<String>, Option<(u32, u32)>) {
    match base {
        Expr::Paren(p) => callee_of(&p.expr),
        Expr::Group(g) => callee_of(&g.expr),
        Expr::Call(call) => match &*call.func {
            Expr::Path(p) => (p.path.segments.last().map(|s| s.ident.to_string()), None),
            _ => (None, None),
        },
        Expr::MethodCall(m) => (Some(m.method.to_string()), None),
        Expr::Async(a) => (None, Some(start(a.async_token.span))),
        _ => (None, None),
    }
}

impl<'ast> Visit<'ast> for Walker<'_> {
    fn visit_expr_await(&mut self, i: &'ast syn::ExprAwait) {
        self.visit_expr(&i.base);
        let (line, col) = start(i.await_token.span);
        let (callee, block_at) = callee_of(&i.base);
        self.points.push(Point {
            line,
            col,
            site: Site::Await { callee, block_at },
        });
    }

    // Other coroutines and items: their awaits are not this body's.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_expr_assign(&mut self, i: &'ast syn::ExprAssign) {
        // The right operand is evaluated first (measured: `arr[a().await] = b().await` is
        // Suspend0 = b, Suspend1 = a).
        self.visit_expr(&i.right);
        self.visit_expr(&i.left);
    }

    fn visit_expr_binary(&mut self, i: &'ast syn::ExprBinary) {
        let compound = matches!(
            i.op,
            BinOp::AddAssign(_)
                | BinOp::SubAssign(_)
                | BinOp::MulAssign(_)
                | BinOp::DivAssign(_)
                | BinOp::RemAssign(_)
                | BinOp::BitXorAssign(_)
                | BinOp::BitAndAssign(_)
                | BinOp::BitOrAssign(_)
                | BinOp::ShlAssign(_)
                | BinOp::ShrAssign(_)
        );
        if compound
            && expr_awaits(&i.left, self.free_macros)
            && expr_awaits(&i.right, self.free_macros)
        {
            let (line, col) = start(syn::spanned::Spanned::span(&i.op));
            // Primitive operands evaluate the right side first, others the left: the types
            // decide, and they are not known here.
            self.fail(format!(
                "a compound assignment at line {line}:{col} awaits on both sides; its order depends on the operand types"
            ));
        }
        syn::visit::visit_expr_binary(self, i);
    }

    fn visit_local(&mut self, i: &'ast syn::Local) {
        let free = self.free_macros;
        self.check_cfg(&i.attrs, || {
            i.init.as_ref().is_some_and(|init| {
                expr_awaits(&init.expr, free)
                    || init
                        .diverge
                        .as_ref()
                        .is_some_and(|(_, d)| expr_awaits(d, free))
            })
        });
        if let Some(init) = &i.init {
            // `let .. else`: the else block's awaits are numbered before the initializer's
            // (measured on `let Some(x) = Some(a().await) else { return b().await; }`).
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
            self.visit_expr(&init.expr);
        }
    }

    fn visit_arm(&mut self, i: &'ast syn::Arm) {
        let free = self.free_macros;
        self.check_cfg(&i.attrs, || {
            expr_awaits(&i.body, free)
                || matches!(&i.pat, syn::Pat::Guard(g) if expr_awaits(&g.guard, free))
        });
        syn::visit::visit_arm(self, i);
    }

    fn visit_field_value(&mut self, i: &'ast syn::FieldValue) {
        let free = self.free_macros;
        self.check_cfg(&i.attrs, || expr_awaits(&i.expr, free));
        syn::visit::visit_field_value(self, i);
    }

    fn visit_block(&mut self, i: &'ast Block) {
        for stmt in &i.stmts {
            if let Stmt::Expr(e, _) = stmt {
                let free = self.free_macros;
                self.check_cfg(expr_attrs(e), || expr_awaits(e, free));
            }
            self.visit_stmt(stmt);
            if stmt_diverges(stmt) {
                // The rest of the block is unreachable: rustc gives its awaits no state.
                break;
            }
        }
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        let name = macro_name(mac);
        let (line, col) = start(
            mac.path
                .segments
                .first()
                .map_or_else(Span::call_site, |s| s.ident.span()),
        );
        let has_await = tokens_await(&mac.tokens);
        let tokio_path = mac.path.segments.len() == 1
            || mac
                .path
                .segments
                .first()
                .is_some_and(|s| s.ident == "tokio");
        if TOKIO_AWAIT_MACROS.contains(&name.as_str()) && tokio_path {
            if has_await {
                self.fail(format!(
                    "`{name}!` at line {line}:{col} awaits inside its branches; their order is not known"
                ));
            } else {
                self.points.push(Point {
                    line,
                    col,
                    site: Site::Macro { name },
                });
            }
        } else if has_await {
            self.fail(format!(
                "`.await` inside `{name}!` at line {line}:{col}: the macro's expansion decides the awaits"
            ));
        } else if !is_inert_macro(&name) && !self.free_macros.contains(&name) {
            self.fail(format!(
                "`{name}!` at line {line}:{col} may expand to awaits the source does not show"
            ));
        }
    }
}

fn expr_attrs(e: &Expr) -> &[Attribute] {
    match e {
        Expr::Async(x) => &x.attrs,
        Expr::Await(x) => &x.attrs,
        Expr::Assign(x) => &x.attrs,
        Expr::Binary(x) => &x.attrs,
        Expr::Block(x) => &x.attrs,
        Expr::Call(x) => &x.attrs,
        Expr::ForLoop(x) => &x.attrs,
        Expr::If(x) => &x.attrs,
        Expr::Loop(x) => &x.attrs,
        Expr::Macro(x) => &x.attrs,
        Expr::Match(x) => &x.attrs,
        Expr::MethodCall(x) => &x.attrs,
        Expr::Try(x) => &x.attrs,
        Expr::Unsafe(x) => &x.attrs,
        Expr::While(x) => &x.attrs,
        _ => &[],
    }
}

/// True when the expression holds an `.await` of this coroutine (or a macro that may).
fn expr_awaits(e: &Expr, free_macros: &HashSet<String>) -> bool {
    struct Finder<'m> {
        found: bool,
        free_macros: &'m HashSet<String>,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
            self.found = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_macro(&mut self, mac: &'ast Macro) {
            let name = macro_name(mac);
            if tokens_await(&mac.tokens)
                || TOKIO_AWAIT_MACROS.contains(&name.as_str())
                || !(is_inert_macro(&name) || self.free_macros.contains(&name))
            {
                self.found = true;
            }
        }
    }
    let mut f = Finder {
        found: false,
        free_macros,
    };
    f.visit_expr(e);
    f.found
}

fn stmt_diverges(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Expr(e, _) => expr_diverges(e),
        Stmt::Macro(m) => DIVERGING_MACROS.contains(&macro_name(&m.mac).as_str()),
        _ => false,
    }
}

fn expr_diverges(e: &Expr) -> bool {
    match e {
        Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => true,
        Expr::Macro(m) => DIVERGING_MACROS.contains(&macro_name(&m.mac).as_str()),
        Expr::Loop(l) => !block_breaks(&l.body),
        _ => false,
    }
}

/// True when a `break` inside the loop body may leave this loop (an unlabeled one outside
/// inner loops, or any labeled one).
fn block_breaks(body: &Block) -> bool {
    struct Finder {
        depth: u32,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_break(&mut self, i: &'ast syn::ExprBreak) {
            if i.label.is_some() || self.depth == 0 {
                self.found = true;
            }
            syn::visit::visit_expr_break(self, i);
        }
        fn visit_expr_loop(&mut self, i: &'ast syn::ExprLoop) {
            self.depth += 1;
            syn::visit::visit_expr_loop(self, i);
            self.depth -= 1;
        }
        fn visit_expr_while(&mut self, i: &'ast syn::ExprWhile) {
            self.depth += 1;
            syn::visit::visit_expr_while(self, i);
            self.depth -= 1;
        }
        fn visit_expr_for_loop(&mut self, i: &'ast syn::ExprForLoop) {
            self.depth += 1;
            syn::visit::visit_expr_for_loop(self, i);
            self.depth -= 1;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_macro(&mut self, mac: &'ast Macro) {
            // A macro (select!'s branches, for one) may break: assume it does.
            if !is_inert_macro(&macro_name(mac)) {
                self.found = true;
            }
        }
    }
    let mut f = Finder {
        depth: 0,
        found: false,
    };
    f.visit_block(body);
    f.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(body: &str) -> Result<Vec<(u32, u32, String)>, String> {
        let f: syn::ItemFn = syn::parse_str(body).unwrap();
        let free = HashSet::new();
        block_points(&f.block, &free).map(|ps| {
            ps.into_iter()
                .map(|p| {
                    let what = match p.site {
                        Site::Await { callee, block_at } => match (callee, block_at) {
                            (Some(c), _) => c,
                            (None, Some((l, c))) => format!("block@{l}:{c}"),
                            (None, None) => "?".into(),
                        },
                        Site::Macro { name } => format!("{name}!"),
                    };
                    (p.line, p.col, what)
                })
                .collect()
        })
    }

    fn names(body: &str) -> Vec<String> {
        points(body).unwrap().into_iter().map(|p| p.2).collect()
    }

    #[test]
    fn source_order_with_the_measured_exceptions() {
        assert_eq!(
            names("async fn f() { let x = d(a().await).await + b().await; }"),
            ["a", "d", "b"]
        );
        assert_eq!(
            names("async fn f() { arr[a().await as usize] = b().await; n += c().await; }"),
            ["b", "a", "c"]
        );
        assert_eq!(
            names("async fn f() { let Some(x) = Some(a().await) else { return b().await; }; c().await }"),
            ["b", "a", "c"]
        );
    }

    #[test]
    fn unreachable_awaits_are_left_out() {
        assert_eq!(
            names("async fn f() { let v = a().await; return v; b().await }"),
            ["a"]
        );
        assert_eq!(
            names("async fn f() { a().await; loop { sleep(1).await; } b().await }"),
            ["a", "sleep"]
        );
        assert_eq!(
            names("async fn f() { loop { if a().await > 1 { break; } } b().await }"),
            ["a", "b"]
        );
        assert_eq!(
            names("async fn f() { panic!(); a().await }"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn other_coroutines_are_not_counted() {
        assert_eq!(
            names("async fn f() { let g = |x| async move { d(x).await }; let b = async { b().await }; a().await; async { c().await }.await }"),
            ["a", "block@1:95"]
        );
    }

    #[test]
    fn macros_are_one_await_or_unmapped() {
        let p = points("async fn f() { a().await;\n let y = tokio::select! { v = b() => v, v = c() => v };\n tokio::join!(a(), b()); }").unwrap();
        assert_eq!(p[1], (2, 10, "select!".into()));
        assert_eq!(p[2].2, "join!");
        let e = points("async fn f() { a().await; mine!(b()); }").unwrap_err();
        assert!(
            e.contains("`mine!` at line 1:27 may expand to awaits"),
            "{e}"
        );
        let e = points("async fn f() { println!(\"{}\", a().await); }").unwrap_err();
        assert!(e.contains("inside `println!`"), "{e}");
        let e = points("async fn f() { tokio::select! { v = b() => v.await } }").unwrap_err();
        assert!(e.contains("awaits inside its branches"), "{e}");
        assert_eq!(names("async fn f() { println!(\"x\"); a().await; }"), ["a"]);
    }

    #[test]
    fn undecidable_orders_are_errors() {
        let e = points("async fn f() { v[a().await] += b().await; }").unwrap_err();
        assert!(e.contains("compound assignment"), "{e}");
        let e = points("async fn f() { #[cfg(feature = \"x\")]\n a().await; }").unwrap_err();
        assert!(e.contains("#[cfg] at line 1:16"), "{e}");
    }
}
