//! The source index: each file read and parsed once, each crate's modules walked from its root
//! file (`mod foo;` -> `foo.rs` or `foo/mod.rs`, `#[path]`, inline modules, items in fn
//! bodies), its fns, methods (inherent, trait impls, trait defaults) and `macro_rules!` listed,
//! and the three ways a report names a coroutine found in it: an async fn by path, an async
//! block or closure by span, an async block by item path and closure index.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, Block, Expr, ImplItem, Item, Stmt, TraitItem};

use super::names::ItemPath;
use super::walk::{self, Point};
use crate::layout::Sources;

/// Files larger than this are not read (generated code, a data file named `.rs`).
const MAX_FILE_BYTES: u64 = 4 << 20;
/// Modules deeper than this are not followed (a `#[path]` loop).
const MAX_MODULE_DEPTH: usize = 64;

/// One source file, read and parsed.
pub(crate) struct Parsed {
    path: PathBuf,
    /// As the layout names it: relative to the crate's cwd when under it, else absolute.
    pub shown: String,
    text: String,
    line_starts: Vec<usize>,
    ast: Rc<syn::File>,
}

impl Parsed {
    /// Line `n` (1-based), trimmed, without its newline.
    pub fn line(&self, n: u32) -> String {
        let Some(i) = usize::try_from(n).ok().and_then(|n| n.checked_sub(1)) else {
            return String::new();
        };
        let Some(&from) = self.line_starts.get(i) else {
            return String::new();
        };
        let to = self
            .line_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text
            .get(from..to)
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

/// What a located coroutine body gave.
pub(crate) struct Located {
    pub file: Rc<Parsed>,
    /// Its awaits in suspend-state order, or why they cannot be listed.
    pub points: Result<Vec<Point>, String>,
    /// Set when the body's awaits are made by an attribute macro (`#[tracing::instrument]`):
    /// why its states are not mapped.
    pub generated: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Item(usize),
    Impl(usize),
    Trait(usize),
    Stmt(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Free,
    Inherent(String),
    TraitImpl { ty: String, tr: String },
    TraitDefault(String),
}

struct FnEntry {
    file: Rc<Parsed>,
    /// What `steps` start from: the file's items, or the items inside an item-level macro
    /// call (`cfg_rt! { mod task; }`).
    root: Rc<syn::File>,
    /// Modules (and enclosing fns) from the crate root.
    modpath: Vec<String>,
    owner: Owner,
    name: String,
    steps: Vec<Step>,
}

struct CrateIndex {
    fns: Vec<FnEntry>,
    /// `macro_rules!` the crate defines whose rules hold no `.await` and call only inert
    /// macros: calling one cannot hide an await.
    free_macros: HashSet<String>,
}

/// A fn found by its steps.
struct FnRef<'a> {
    attrs: &'a [Attribute],
    sig: &'a syn::Signature,
    block: &'a Block,
}

fn resolve<'a>(ast: &'a syn::File, steps: &[Step]) -> Option<FnRef<'a>> {
    let mut items: &'a [Item] = &ast.items;
    let mut stmts: &'a [Stmt] = &[];
    let mut current: Option<FnRef<'a>> = None;
    let mut impl_items: &'a [ImplItem] = &[];
    let mut trait_items: &'a [TraitItem] = &[];
    for step in steps {
        let item = match *step {
            Step::Item(i) => items.get(i)?,
            Step::Stmt(i) => match stmts.get(i)? {
                Stmt::Item(item) => item,
                _ => return None,
            },
            Step::Impl(i) => match impl_items.get(i)? {
                ImplItem::Fn(f) => {
                    current = Some(FnRef {
                        attrs: &f.attrs,
                        sig: &f.sig,
                        block: &f.block,
                    });
                    stmts = &f.block.stmts;
                    continue;
                }
                _ => return None,
            },
            Step::Trait(i) => match trait_items.get(i)? {
                TraitItem::Fn(f) => {
                    let block = f.default.as_ref()?;
                    current = Some(FnRef {
                        attrs: &f.attrs,
                        sig: &f.sig,
                        block,
                    });
                    stmts = &block.stmts;
                    continue;
                }
                _ => return None,
            },
        };
        match item {
            Item::Mod(m) => {
                items = m.content.as_ref().map_or(&[][..], |(_, items)| &items[..]);
                current = None;
            }
            Item::Impl(imp) => impl_items = &imp.items,
            Item::Trait(tr) => trait_items = &tr.items,
            Item::Fn(f) => {
                current = Some(FnRef {
                    attrs: &f.attrs,
                    sig: &f.sig,
                    block: &f.block,
                });
                stmts = &f.block.stmts;
            }
            _ => return None,
        }
    }
    current
}

fn ty_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => ty_name(&r.elem),
        syn::Type::Paren(p) => ty_name(&p.elem),
        syn::Type::Group(g) => ty_name(&g.elem),
        _ => None,
    }
}

fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("path"))
        .and_then(|a| {
            let syn::Meta::NameValue(nv) = &a.meta else {
                return None;
            };
            match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            }
        })
}

/// True when a macro's definition cannot hide an await.
fn macro_is_free(tokens: &proc_macro2::TokenStream) -> bool {
    use proc_macro2::TokenTree;
    fn ok(tokens: &proc_macro2::TokenStream) -> bool {
        let tts: Vec<TokenTree> = tokens.clone().into_iter().collect();
        for (i, tt) in tts.iter().enumerate() {
            match tt {
                TokenTree::Ident(id) if id == "await" => return false,
                TokenTree::Ident(id) => {
                    let bang =
                        matches!(tts.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                    if bang && !walk::is_inert_macro(&id.to_string()) {
                        return false;
                    }
                }
                TokenTree::Group(g) if !ok(&g.stream()) => return false,
                _ => {}
            }
        }
        true
    }
    ok(tokens)
}

/// Everything the index has read, for one `map` call.
pub(crate) struct Index<'s> {
    sources: &'s Sources,
    files: HashMap<PathBuf, Result<Rc<Parsed>, String>>,
    crates: HashMap<String, Result<Rc<CrateIndex>, String>>,
}

fn norm(name: &str) -> String {
    name.replace('-', "_")
}

impl<'s> Index<'s> {
    pub fn new(sources: &'s Sources) -> Self {
        Self {
            sources,
            files: HashMap::new(),
            crates: HashMap::new(),
        }
    }

    /// The sources entry of a crate: (root file, cwd).
    fn crate_source(&self, name: &str) -> Result<(PathBuf, PathBuf), String> {
        let name = norm(name);
        let mut found: Vec<&(String, PathBuf, PathBuf)> = self
            .sources
            .crates
            .iter()
            .filter(|(n, _, _)| norm(n) == name)
            .collect();
        found.dedup_by(|a, b| a.1 == b.1);
        match found.as_slice() {
            [] => Err(format!("the build's sources do not list crate `{name}`")),
            [(_, root, cwd)] => Ok((root.clone(), cwd.clone())),
            _ => Err(format!(
                "crate `{name}` was compiled from {} different sources",
                found.len()
            )),
        }
    }

    fn is_crate(&self, name: &str) -> bool {
        let name = norm(name);
        self.sources.crates.iter().any(|(n, _, _)| norm(n) == name)
    }

    /// Reads and parses a file once.
    fn file(&mut self, path: &Path, cwd: &Path) -> Result<Rc<Parsed>, String> {
        if let Some(done) = self.files.get(path) {
            return done.clone();
        }
        let result = read_parse(path, cwd).map(Rc::new);
        self.files.insert(path.to_path_buf(), result.clone());
        result
    }

    fn crate_index(&mut self, name: &str) -> Result<Rc<CrateIndex>, String> {
        let key = norm(name);
        if let Some(done) = self.crates.get(&key) {
            return done.clone();
        }
        let result = self.build_crate_index(&key).map(Rc::new);
        self.crates.insert(key, result.clone());
        result
    }

    fn build_crate_index(&mut self, name: &str) -> Result<CrateIndex, String> {
        let (root, cwd) = self.crate_source(name)?;
        let root = if root.is_absolute() {
            root
        } else {
            cwd.join(root)
        };
        let file = self.file(&root, &cwd)?;
        let mut index = CrateIndex {
            fns: Vec::new(),
            free_macros: HashSet::new(),
        };
        let mut unfree = HashSet::new();
        let dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut seen = HashSet::new();
        seen.insert(root.clone());
        let mut walker = ModWalk {
            root: file.ast.clone(),
            index: self,
            cwd: &cwd,
            out: &mut index,
            unfree: &mut unfree,
            seen: &mut seen,
        };
        walker.items(&file, &file.ast.items, &[], &[], &dir, 0);
        index.free_macros.retain(|m| !unfree.contains(m));
        Ok(index)
    }

    /// The fn a printed path names, searched in the crate the path's prefix names (or the
    /// printing crate for its own items).
    fn find_fn(
        &mut self,
        printing_crate: &str,
        path: &ItemPath,
    ) -> Result<(Rc<CrateIndex>, usize), String> {
        let own = norm(printing_crate);
        let other = |segs: &[String], this: &Self| {
            segs.first()
                .filter(|s| segs.len() > 1 && norm(s) != own && this.is_crate(s))
                .cloned()
        };
        let Some(name) = path.segs.last() else {
            return Err("an empty path".into());
        };
        if let Some((ty, tr)) = &path.qself {
            let mut crates = Vec::new();
            crates.extend(other(ty, self));
            crates.extend(other(tr, self));
            crates.push(own.clone());
            let (Some(ty), Some(tr)) = (ty.last(), tr.last()) else {
                return Err("a qualified path without a type or trait".into());
            };
            let mut last_err = String::new();
            for krate in crates {
                let index = match self.crate_index(&krate) {
                    Ok(index) => index,
                    Err(e) => {
                        last_err = e;
                        continue;
                    }
                };
                let imp = Owner::TraitImpl {
                    ty: ty.clone(),
                    tr: tr.clone(),
                };
                let found = unique(&index, |f| f.owner == imp && &f.name == name).or_else(|| {
                    unique(&index, |f| {
                        f.owner == Owner::TraitDefault(tr.clone()) && &f.name == name
                    })
                });
                match found {
                    Some(Ok(i)) => return Ok((index, i)),
                    Some(Err(n)) => {
                        return Err(format!(
                            "`<{ty} as {tr}>::{name}` matches {n} fns in crate `{krate}`"
                        ))
                    }
                    None => last_err = format!("no `impl {tr} for {ty}` with `fn {name}` (nor a default one) in crate `{krate}`"),
                }
            }
            return Err(last_err);
        }
        let (krate, segs) = match other(&path.segs, self) {
            Some(k) => (k, &path.segs[1..]),
            None => (own, &path.segs[..]),
        };
        let index = self.crate_index(&krate)?;
        let n = segs.len();
        let modpath = &segs[..n - 1];
        let exact = unique(&index, |f| {
            &f.name == name
                && ((f.owner == Owner::Free && f.modpath == modpath)
                    || (n >= 2
                        && f.owner == Owner::Inherent(segs[n - 2].clone())
                        && f.modpath == segs[..n - 2]))
        });
        // A type printed by the path it is re-exported at (`tokio::sync::mpsc::Receiver` is
        // defined in `sync::mpsc::bounded`): its impl is in a module under that path.
        let under = || {
            if n < 2 {
                return None;
            }
            unique(&index, |f| {
                &f.name == name
                    && f.owner == Owner::Inherent(segs[n - 2].clone())
                    && f.modpath.starts_with(&segs[..n - 2])
            })
        };
        let relaxed = || {
            unique(&index, |f| {
                &f.name == name
                    && if n >= 2 {
                        f.owner == Owner::Inherent(segs[n - 2].clone())
                            || (f.owner == Owner::Free && f.modpath.last() == Some(&segs[n - 2]))
                    } else {
                        f.owner == Owner::Free
                    }
            })
        };
        match exact.or_else(under).or_else(relaxed) {
            Some(Ok(i)) => Ok((index, i)),
            Some(Err(count)) => Err(format!(
                "`{}` matches {count} fns in crate `{krate}`",
                segs.join("::")
            )),
            None => Err(format!("no fn `{}` in crate `{krate}`", segs.join("::"))),
        }
    }

    /// `{async fn body of PATH()}`.
    pub fn locate_async_fn(&mut self, printing_crate: &str, path: &str) -> Result<Located, String> {
        let item = super::names::parse_item_path(path)?;
        if !item.closures.is_empty() {
            return Err(format!("`{path}` names a closure, not an async fn"));
        }
        let (index, i) = self.find_fn(printing_crate, &item)?;
        let entry = &index.fns[i];
        let Some(f) = resolve(&entry.root, &entry.steps) else {
            return Err(format!("`{path}` was indexed but not found again"));
        };
        if f.sig.asyncness.is_none() {
            return Err(format!(
                "`{path}` is not an `async fn` in {}",
                entry.file.shown
            ));
        }
        let generated = f
            .attrs
            .iter()
            .find(|a| a.path().segments.last().is_some_and(|s| s.ident == "instrument"))
            .map(|a| {
                let (line, _) = walk::start(a.pound_token.span);
                format!(
                    "the awaits of this state are made by #[tracing::instrument] ({}:{line}); the body's awaits are in its inner async block",
                    entry.file.shown
                )
            });
        Ok(Located {
            file: entry.file.clone(),
            points: walk::block_points(f.block, &index.free_macros),
            generated,
        })
    }

    /// `{async block@FILE:L:C: ..}` / `{async closure body@FILE:L:C: ..}`: the block whose
    /// `async` starts there, the async closure whose body starts there, or the fn an
    /// attribute macro starting there wraps into a block (`#[tokio::main]`,
    /// `#[tracing::instrument]`: measured, their block's span is the attribute).
    pub fn locate_span(
        &mut self,
        printing_crate: &str,
        file: &str,
        line: u32,
        col: u32,
    ) -> Result<Located, String> {
        let (_, cwd) = self.crate_source(printing_crate)?;
        let mut candidates = vec![cwd.join(file)];
        for (_, _, other) in &self.sources.crates {
            let p = other.join(file);
            if !candidates.contains(&p) {
                candidates.push(p);
            }
        }
        let path = candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!("`{file}` is not found from crate `{printing_crate}`'s directory")
            })?;
        let parsed = self.file(&path, &cwd)?;
        let free = self
            .crate_index(printing_crate)
            .map(|c| c.free_macros.clone())
            .unwrap_or_default();
        let mut finder = SpanFinder {
            at: (line, col),
            free: &free,
            found: None,
        };
        finder.visit_file(&parsed.ast);
        match finder.found {
            Some((points, generated)) => Ok(Located {
                file: parsed.clone(),
                points,
                generated,
            }),
            None => Err(format!(
                "no async block, async closure or attribute starts at {file}:{line}:{col} (inside a macro?)"
            )),
        }
    }

    /// `{async block@PATH::{closure#N}..}`: the item's N-th closure or async block in source
    /// order (an async fn's body is its `{closure#0}`), when the count can be trusted.
    pub fn locate_item(&mut self, printing_crate: &str, path: &str) -> Result<Located, String> {
        let item = super::names::parse_item_path(path)?;
        if item.closures.is_empty() {
            return Err(format!("`{path}` names no closure"));
        }
        let (index, i) = self.find_fn(printing_crate, &item)?;
        let entry = &index.fns[i];
        let Some(f) = resolve(&entry.root, &entry.steps) else {
            return Err(format!("`{path}` was indexed but not found again"));
        };
        // An attribute macro (`#[tracing::instrument]`, `#[tokio::main]`) rewrites the body
        // and makes closures of its own: the source's count is not rustc's.
        if let Some(attr) = f.attrs.iter().find(|a| !is_inert_attr(a)) {
            let (line, _) = walk::start(attr.pound_token.span);
            return Err(format!(
                "`{path}`: the attribute at {}:{line} may rewrite the body, so its closures cannot be counted",
                entry.file.shown
            ));
        }
        let mut indices = item.closures.as_slice();
        if f.sig.asyncness.is_some() {
            // The async fn's body is `{closure#0}` of the fn.
            match indices.split_first() {
                Some((0, rest)) => indices = rest,
                _ => return Err(format!("`{path}`: an async fn's body is its only child")),
            }
        }
        let mut container = Container::Block(f.block);
        for (depth, &n) in indices.iter().enumerate() {
            let children = children_of(container);
            let Some(child) = usize::try_from(n).ok().and_then(|n| children.kids.get(n)) else {
                return Err(format!(
                    "`{path}`: {} closures and async blocks found where #{n} is named",
                    children.kids.len()
                ));
            };
            if let Some((name, (line, _))) =
                children.macros.iter().find(|(_, pos)| *pos < child.pos)
            {
                return Err(format!(
                    "`{name}!` at {}:{line} comes before closure #{n} and may make closures of its own: the count cannot be trusted",
                    entry.file.shown
                ));
            }
            let last = depth + 1 == indices.len();
            match (child.expr, last) {
                (Expr::Async(a), true) => {
                    return Ok(Located {
                        file: entry.file.clone(),
                        points: walk::block_points(&a.block, &index.free_macros),
                        generated: None,
                    })
                }
                (Expr::Async(a), false) => container = Container::Block(&a.block),
                (Expr::Closure(c), false) if c.asyncness.is_none() => {
                    container = Container::Expr(&c.body)
                }
                _ => {
                    return Err(format!(
                        "`{path}`: closure #{n} at {}:{} is not the async block named",
                        entry.file.shown, child.pos.0
                    ))
                }
            }
        }
        Err(format!("`{path}` names no async block"))
    }
}

/// Attributes that leave a fn's body as written.
fn is_inert_attr(attr: &Attribute) -> bool {
    const INERT: &[&str] = &[
        "allow",
        "cfg",
        "cfg_attr",
        "cold",
        "deny",
        "deprecated",
        "doc",
        "expect",
        "forbid",
        "inline",
        "must_use",
        "track_caller",
        "warn",
    ];
    attr.path()
        .get_ident()
        .is_some_and(|i| INERT.iter().any(|n| i == n))
}

fn unique(index: &CrateIndex, pred: impl Fn(&FnEntry) -> bool) -> Option<Result<usize, usize>> {
    let hits: Vec<usize> = index
        .fns
        .iter()
        .enumerate()
        .filter(|(_, f)| pred(f))
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [] => None,
        [one] => Some(Ok(*one)),
        many => Some(Err(many.len())),
    }
}

fn read_parse(path: &Path, cwd: &Path) -> Result<Parsed, String> {
    // As rustc prints it: relative for the workspace's own crates, absolute for registry and
    // git dependencies (cargo gives rustc their absolute paths).
    let text_path = path.to_string_lossy();
    let dependency = text_path.contains("/registry/src/") || text_path.contains("/git/checkouts/");
    let shown = match path.strip_prefix(cwd) {
        Ok(rel) if !dependency => rel.display().to_string(),
        _ => path.display().to_string(),
    };
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} is {} bytes, more than the {MAX_FILE_BYTES} read",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let ast = syn::parse_file(&text).map_err(|e| {
        let (line, col) = walk::start(e.span());
        format!("{shown}:{line}:{col} does not parse: {e}")
    })?;
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    Ok(Parsed {
        path: path.to_path_buf(),
        shown,
        text,
        line_starts,
        ast: Rc::new(ast),
    })
}

struct ModWalk<'a, 's> {
    /// The items the current steps start from.
    root: Rc<syn::File>,
    index: &'a mut Index<'s>,
    cwd: &'a Path,
    out: &'a mut CrateIndex,
    unfree: &'a mut HashSet<String>,
    seen: &'a mut HashSet<PathBuf>,
}

impl ModWalk<'_, '_> {
    /// Lists the items of a module (or fn body), following out-of-line modules into their
    /// files. `dir` is where this module's out-of-line children live.
    fn items(
        &mut self,
        file: &Rc<Parsed>,
        items: &[Item],
        steps: &[Step],
        modpath: &[String],
        dir: &Path,
        depth: usize,
    ) {
        if depth > MAX_MODULE_DEPTH {
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let mut here = steps.to_vec();
            here.push(Step::Item(i));
            self.item(file, item, here, modpath, dir, depth);
        }
    }

    fn item(
        &mut self,
        file: &Rc<Parsed>,
        item: &Item,
        here: Vec<Step>,
        modpath: &[String],
        dir: &Path,
        depth: usize,
    ) {
        match item {
            Item::Fn(f) => {
                self.push(
                    file,
                    modpath,
                    Owner::Free,
                    f.sig.ident.to_string(),
                    here.clone(),
                );
                self.fn_body(
                    file,
                    &f.block,
                    here,
                    modpath,
                    &f.sig.ident.to_string(),
                    dir,
                    depth,
                );
            }
            Item::Impl(imp) => {
                let Some(ty) = ty_name(&imp.self_ty) else {
                    return;
                };
                let owner = match &imp.trait_ {
                    Some((path, _)) => match path.segments.last() {
                        Some(tr) => Owner::TraitImpl {
                            ty,
                            tr: tr.ident.to_string(),
                        },
                        None => return,
                    },
                    None => Owner::Inherent(ty),
                };
                for (j, ii) in imp.items.iter().enumerate() {
                    if let ImplItem::Fn(f) = ii {
                        let mut steps = here.clone();
                        steps.push(Step::Impl(j));
                        self.push(file, modpath, owner.clone(), f.sig.ident.to_string(), steps);
                    }
                }
            }
            Item::Trait(tr) => {
                for (j, ti) in tr.items.iter().enumerate() {
                    if let TraitItem::Fn(f) = ti {
                        if f.default.is_some() {
                            let mut steps = here.clone();
                            steps.push(Step::Trait(j));
                            self.push(
                                file,
                                modpath,
                                Owner::TraitDefault(tr.ident.to_string()),
                                f.sig.ident.to_string(),
                                steps,
                            );
                        }
                    }
                }
            }
            Item::Mod(m) => {
                let name = m.ident.to_string();
                let mut inner = modpath.to_vec();
                inner.push(name.clone());
                match &m.content {
                    Some((_, items)) => {
                        let child_dir = match path_attr(&m.attrs) {
                            Some(p) => dir.join(p),
                            None => dir.join(&name),
                        };
                        self.items(file, items, &here, &inner, &child_dir, depth + 1);
                    }
                    None => {
                        let (path, child_dir) = match path_attr(&m.attrs) {
                            Some(p) => {
                                // Relative to the declaring file's own directory.
                                let base = file.path.parent().unwrap_or(dir);
                                let path = base.join(p);
                                let child =
                                    path.parent().map(Path::to_path_buf).unwrap_or_default();
                                (path, child)
                            }
                            None => {
                                let flat = dir.join(format!("{name}.rs"));
                                if flat.is_file() {
                                    (flat, dir.join(&name))
                                } else {
                                    (dir.join(&name).join("mod.rs"), dir.join(&name))
                                }
                            }
                        };
                        if !self.seen.insert(path.clone()) {
                            return;
                        }
                        // A module whose file is missing (cfg'd out) or does not parse holds
                        // no fn the index can offer; lookups into it say "no fn".
                        let Ok(child) = self.index.file(&path, self.cwd) else {
                            return;
                        };
                        let outer = std::mem::replace(&mut self.root, child.ast.clone());
                        self.items(&child, &child.ast.items, &[], &inner, &child_dir, depth + 1);
                        self.root = outer;
                    }
                }
            }
            Item::Macro(m) if m.mac.path.is_ident("macro_rules") => {
                if let Some(name) = &m.ident {
                    let name = name.to_string();
                    if macro_is_free(&m.mac.tokens) {
                        self.out.free_macros.insert(name);
                    } else {
                        self.unfree.insert(name);
                    }
                }
            }
            // An item-level macro call whose body is items (`cfg_rt! { pub mod task; }`, as
            // tokio declares most of its modules): its items as if written here. Which cfg
            // holds is not known: a name defined twice is ambiguous, not guessed.
            Item::Macro(m) => {
                let Ok(inner) = syn::parse2::<syn::File>(m.mac.tokens.clone()) else {
                    return;
                };
                if inner.items.is_empty() {
                    return;
                }
                let inner = Rc::new(inner);
                let outer = std::mem::replace(&mut self.root, inner.clone());
                self.items(file, &inner.items, &[], modpath, dir, depth + 1);
                self.root = outer;
            }
            _ => {}
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the walk's position, passed down"
    )]
    fn fn_body(
        &mut self,
        file: &Rc<Parsed>,
        block: &Block,
        here: Vec<Step>,
        modpath: &[String],
        name: &str,
        dir: &Path,
        depth: usize,
    ) {
        let mut inner = modpath.to_vec();
        inner.push(name.to_string());
        for (k, stmt) in block.stmts.iter().enumerate() {
            if let Stmt::Item(item) = stmt {
                let mut steps = here.clone();
                steps.push(Step::Stmt(k));
                self.item(file, item, steps, &inner, dir, depth + 1);
            }
        }
    }

    fn push(
        &mut self,
        file: &Rc<Parsed>,
        modpath: &[String],
        owner: Owner,
        name: String,
        steps: Vec<Step>,
    ) {
        self.out.fns.push(FnEntry {
            file: file.clone(),
            root: self.root.clone(),
            modpath: modpath.to_vec(),
            owner,
            name,
            steps,
        });
    }
}

/// An item's direct closures and async blocks in source order, and the macros among them.
struct Children<'a> {
    kids: Vec<Kid<'a>>,
    macros: Vec<(String, (u32, u32))>,
}

struct Kid<'a> {
    pos: (u32, u32),
    expr: &'a Expr,
}

#[derive(Clone, Copy)]
enum Container<'a> {
    Block(&'a Block),
    Expr(&'a Expr),
}

fn children_of(container: Container<'_>) -> Children<'_> {
    struct Finder<'a> {
        out: Children<'a>,
    }
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_expr(&mut self, e: &'a Expr) {
            match e {
                Expr::Closure(_) | Expr::Async(_) => self.out.kids.push(Kid {
                    pos: walk::start(e.span()),
                    expr: e,
                }),
                _ => syn::visit::visit_expr(self, e),
            }
        }
        fn visit_item(&mut self, _: &'a Item) {}
        fn visit_macro(&mut self, mac: &'a syn::Macro) {
            let name = walk::macro_name(mac);
            if !walk::is_inert_macro(&name) {
                self.out.macros.push((name, walk::start(mac.path.span())));
            }
        }
    }
    let mut f = Finder {
        out: Children {
            kids: Vec::new(),
            macros: Vec::new(),
        },
    };
    match container {
        Container::Block(b) => f.visit_block(b),
        Container::Expr(e) => f.visit_expr(e),
    }
    f.out
}

/// Finds what starts at a span, anywhere in a file.
struct SpanFinder<'f> {
    at: (u32, u32),
    free: &'f HashSet<String>,
    #[allow(
        clippy::type_complexity,
        reason = "the located body's result, filled once"
    )]
    found: Option<(Result<Vec<Point>, String>, Option<String>)>,
}

impl SpanFinder<'_> {
    fn attr_at(&self, attrs: &[Attribute]) -> Option<String> {
        attrs
            .iter()
            .find(|a| walk::start(a.pound_token.span) == self.at)
            .map(|a| {
                a.path()
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect::<Vec<_>>()
                    .join("::")
            })
    }

    fn fn_at(&mut self, attrs: &[Attribute], block: &Block) {
        if self.found.is_none() && self.attr_at(attrs).is_some() {
            self.found = Some((walk::block_points(block, self.free), None));
        }
    }
}

impl<'ast> Visit<'ast> for SpanFinder<'_> {
    fn visit_item_fn(&mut self, i: &'ast syn::ItemFn) {
        self.fn_at(&i.attrs, &i.block);
        syn::visit::visit_item_fn(self, i);
    }
    fn visit_impl_item_fn(&mut self, i: &'ast syn::ImplItemFn) {
        self.fn_at(&i.attrs, &i.block);
        syn::visit::visit_impl_item_fn(self, i);
    }
    fn visit_trait_item_fn(&mut self, i: &'ast syn::TraitItemFn) {
        if let Some(block) = &i.default {
            self.fn_at(&i.attrs, block);
        }
        syn::visit::visit_trait_item_fn(self, i);
    }
    fn visit_expr_async(&mut self, i: &'ast syn::ExprAsync) {
        if self.found.is_none() && walk::start(i.async_token.span) == self.at {
            self.found = Some((walk::block_points(&i.block, self.free), None));
        }
        syn::visit::visit_expr_async(self, i);
    }
    fn visit_expr_closure(&mut self, i: &'ast syn::ExprClosure) {
        // An async closure's body coroutine is named by the body's span (measured:
        // `async move |x: u32| {` printed at the `{`).
        if self.found.is_none() && i.asyncness.is_some() && walk::start(i.body.span()) == self.at {
            self.found = Some((walk::expr_points(&i.body, self.free), None));
        }
        syn::visit::visit_expr_closure(self, i);
    }
}
