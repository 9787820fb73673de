//! The crate's modules import each other without cycles, at the level of files and at the level
//! of the top-level modules (`engine`, `read`, `device`, …), so that the layout keeps reading as
//! a data path. The graph comes from the source text: every `crate::`, `super::` and `self::`
//! path outside test modules, resolved through the re-exports of `lib.rs` and each folder's
//! `mod.rs` to the file that defines the item.
//!
//! `cargo test --test module_graph -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module: its path segments below the crate root (`[]` is `lib.rs`).
type Module = Vec<String>;

/// Files by module, with the code that counts (test modules and comments removed).
struct Crate {
    code: BTreeMap<Module, String>,
    /// The child modules each module declares (`mod x;`), test-only ones left out.
    children: BTreeMap<Module, Vec<String>>,
}

impl Crate {
    fn load(src: &Path) -> Crate {
        let mut files = BTreeMap::new();
        collect(src, src, &mut files);
        Crate::from_sources(files)
    }

    /// From `(path below src/, text)` pairs.
    fn from_sources(files: BTreeMap<String, String>) -> Crate {
        let mut code = BTreeMap::new();
        let mut test_only = BTreeSet::new();
        for (path, text) in &files {
            let module = module_of(path);
            let (kept, gated) = strip(text);
            for name in gated {
                let mut child = module.clone();
                child.push(name);
                test_only.insert(child);
            }
            code.insert(module, kept);
        }
        code.retain(|module, _| !test_only.iter().any(|gated| module.starts_with(gated)));
        let children = code
            .iter()
            .map(|(module, text)| {
                let declared = text.lines().filter_map(|l| {
                    let l = l.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
                    l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
                });
                (module.clone(), declared.collect())
            })
            .collect();
        Crate { code, children }
    }

    /// Which modules each module uses.
    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges = BTreeMap::new();
        for (module, code) in &self.code {
            let children = &self.children[module];
            let mut targets = BTreeSet::new();
            for path in paths(&without_reexports(code, children), children) {
                if let Some(target) = self.resolve(module, &path) {
                    if &target != module {
                        targets.insert(target);
                    }
                }
            }
            edges.insert(module.clone(), targets);
        }
        edges
    }

    /// The module that defines what `path`, written in `from`, names.
    fn resolve(&self, from: &Module, path: &[String]) -> Option<Module> {
        let mut base: Module = match path.first()?.as_str() {
            "crate" => Vec::new(),
            "self" => from.clone(),
            "super" => from[..from.len().checked_sub(1)?].to_vec(),
            _ => return None,
        };
        let mut rest = &path[1..];
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        // Walk down while the segments name modules, then follow re-exports.
        for segment in rest {
            let mut child = base.clone();
            child.push(segment.clone());
            if self.code.contains_key(&child) {
                base = child;
                continue;
            }
            return Some(self.through_reexports(base, segment));
        }
        Some(base)
    }

    /// `module` or, if it re-exports `name` from one of its children, that child (recursively).
    fn through_reexports(&self, module: Module, name: &str) -> Module {
        let Some(code) = self.code.get(&module) else { return module };
        for (child, names) in reexports(code) {
            if names.iter().any(|n| n == name) {
                let mut next = module.clone();
                next.push(child);
                if self.code.contains_key(&next) {
                    return self.through_reexports(next, name);
                }
            }
        }
        module
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn module_of(rel: &str) -> Module {
    let mut parts: Vec<String> =
        rel.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file's code without comments and `#[cfg(test)]` items, and the names of the modules
/// declared under `#[cfg(test)]` (whose files are test code too).
fn strip(text: &str) -> (String, Vec<String>) {
    let mut kept = String::new();
    let mut gated = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let code = line.split("//").next().unwrap_or("");
        if line.trim() == "#[cfg(test)]" {
            let next = lines.peek().map(|l| l.trim()).unwrap_or("");
            let declared = next.trim_start_matches("pub(crate) ").trim_start_matches("mod ");
            if next.contains("mod ") && declared.ends_with(';') {
                gated.push(declared.trim_end_matches(';').to_owned());
                lines.next();
                continue;
            }
            if next.starts_with("mod ") {
                break; // the test module runs to the end of the file
            }
            lines.next(); // one gated item on one line (a `use`, a statement)
            continue;
        }
        kept.push_str(code);
        kept.push('\n');
    }
    (kept, gated)
}

/// `code` without the statements that re-export a declared child's items (`pub use child::X`):
/// they publish the child, they do not use it.
fn without_reexports(code: &str, children: &[String]) -> String {
    let publishes_child = |statement: &str| {
        let s = statement.trim();
        let tree = s.strip_prefix("pub use ").or_else(|| s.strip_prefix("pub(crate) use "));
        tree.is_some_and(|t| children.iter().any(|c| t.starts_with(&format!("{c}::"))))
    };
    code.split_inclusive(';').filter(|s| !publishes_child(s)).collect()
}

/// Every `crate::`/`super::`/`self::` path in `code`, and every path through one of `children`
/// (`child::item`, the parent's use of its own child), with `use` trees expanded.
fn paths(code: &str, children: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let starts: Vec<String> = ["crate", "super", "self"]
        .iter()
        .map(|s| s.to_string())
        .chain(children.iter().cloned())
        .map(|s| format!("{s}::"))
        .collect();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &code[i..];
        let after_path = i >= 2 && &code[i - 2..i] == "::";
        if at_word && !after_path && starts.iter().any(|p| rest.starts_with(p.as_str())) {
            let end = tree_end(rest);
            let mut found = Vec::new();
            expand(&rest[..end], &mut Vec::new(), &mut found);
            for mut path in found {
                if !matches!(path[0].as_str(), "crate" | "super" | "self") {
                    path.insert(0, "self".into());
                }
                out.push(path);
            }
            i += end.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// The length of the path or `use` tree at the start of `s`.
fn tree_end(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => return i,
            _ => {}
        }
    }
    s.len()
}

/// Expands `a::b::{c, d::{e}}` into `[a, b, c]`, `[a, b, d, e]`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::");
        let depth = prefix.len();
        prefix.extend(head.split("::").filter(|s| !s.is_empty()).map(str::to_owned));
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        for item in split_top(inner) {
            expand(item, prefix, out);
        }
        prefix.truncate(depth);
    } else {
        let tree = tree.split(" as ").next().unwrap_or("");
        let mut path = prefix.clone();
        path.extend(tree.split("::").filter(|s| !s.is_empty() && *s != "*").map(str::to_owned));
        if path.last().is_some_and(|s| s == "self") {
            path.pop();
        }
        out.push(path);
    }
}

fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// `pub use child::{A, B}` / `pub(crate) use child::C`: the children a facade re-exports from,
/// with the names.
fn reexports(code: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for statement in code.split(';') {
        let s = statement.trim();
        let Some(tree) = s.strip_prefix("pub use ").or_else(|| s.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let mut paths = Vec::new();
        expand(tree, &mut Vec::new(), &mut paths);
        for path in paths {
            if let [child, .., name] = path.as_slice() {
                out.push((child.clone(), vec![name.clone()]));
            }
        }
    }
    out
}

/// The modules of every cycle in `edges` (strongly connected components of two or more).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    let nodes: Vec<&Module> = edges.keys().collect();
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in edges.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Module, BTreeSet<Module>> =
        nodes.iter().map(|m| (*m, reach(m))).collect();
    let mut out: Vec<Vec<Module>> = Vec::new();
    for m in &nodes {
        let component: Vec<Module> = nodes
            .iter()
            .filter(|n| reachable[*m].contains(**n) && reachable[*n].contains(*m))
            .map(|n| (*n).clone())
            .collect();
        if !component.is_empty() && !out.contains(&component) {
            out.push(component);
        }
    }
    out
}

/// The graph between top-level modules (`engine`, `read`, …), the crate root left out.
fn top_level(edges: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<Module, BTreeSet<Module>> {
    let top = |m: &Module| m.first().map(|s| vec![s.clone()]);
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (from, targets) in edges {
        let Some(from) = top(from) else { continue };
        let entry = out.entry(from.clone()).or_default();
        entry.extend(targets.iter().filter_map(top).filter(|t| *t != from));
    }
    out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

fn show(edges: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    edges
        .iter()
        .map(|(from, to)| {
            let to: Vec<String> = to.iter().map(name).collect();
            format!("{} -> {}\n", name(from), to.join(", "))
        })
        .collect()
}

#[test]
fn no_two_modules_import_each_other() {
    let krate = Crate::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let files = krate.edges();
    let top = top_level(&files);
    println!("top-level modules:\n{}\nfiles:\n{}", show(&top), show(&files));
    assert!(top.len() >= 8 && files.len() >= 30, "the source tree was not read:\n{}", show(&files));
    for (level, graph) in [("files", &files), ("top-level modules", &top)] {
        let found = cycles(graph);
        let named: Vec<Vec<String>> = found.iter().map(|c| c.iter().map(name).collect()).collect();
        assert!(found.is_empty(), "import cycles between {level}: {named:?}\n{}", show(graph));
    }
}

#[test]
fn test_code_is_not_part_of_the_graph() {
    let krate = Crate::from_sources(BTreeMap::from([
        ("lib.rs".into(), "mod a;\nmod b;\n#[cfg(test)]\nmod helper;\n".into()),
        (
            "a.rs".into(),
            "use crate::b::X;\n#[cfg(test)]\nmod tests {\n use crate::helper::H;\n}\n".into(),
        ),
        ("b.rs".into(), "pub struct X;\n#[cfg(test)]\nuse crate::a::Y;\n".into()),
        ("helper.rs".into(), "use crate::a::Y;\n".into()),
    ]));
    let edges = krate.edges();
    assert!(!edges.contains_key(&vec!["helper".to_owned()]));
    assert!(cycles(&edges).is_empty(), "{}", show(&edges));
}

#[test]
fn a_child_that_uses_its_parents_code_while_the_parent_uses_it_is_a_cycle() {
    let krate = Crate::from_sources(BTreeMap::from([
        ("lib.rs".into(), "mod read;\n".into()),
        ("read/mod.rs".into(), "mod open;\npub struct Settings;\nfn f() { open::go(); }\n".into()),
        ("read/open.rs".into(), "use super::Settings;\npub fn go() {}\n".into()),
    ]));
    assert_eq!(cycles(&krate.edges()).len(), 1, "{}", show(&krate.edges()));
}

#[test]
fn a_cycle_through_a_reexport_or_a_use_tree_is_found() {
    let krate = Crate::from_sources(BTreeMap::from([
        ("lib.rs".into(), "mod engine;\nmod read;\npub use engine::Thing;\n".into()),
        ("engine/mod.rs".into(), "mod task;\nmod state;\npub use task::Thing;\n".into()),
        ("engine/task.rs".into(), "use super::{state::State, Other};\npub struct Thing;\n".into()),
        ("engine/state.rs".into(), "pub struct State;\nfn f() { crate::read::go(); }\n".into()),
        ("read/mod.rs".into(), "mod open;\npub(crate) use open::go;\n".into()),
        ("read/open.rs".into(), "use crate::{Status, Thing as T};\npub fn go() {}\n".into()),
    ]));
    let edges = krate.edges();
    let task = vec!["engine".to_owned(), "task".to_owned()];
    let open = vec!["read".to_owned(), "open".to_owned()];
    assert!(
        edges[&open].contains(&task),
        "crate::Thing resolves to engine::task: {}",
        show(&edges)
    );
    let found = cycles(&edges);
    assert_eq!(found.len(), 1, "{}", show(&edges));
    assert!(found[0].contains(&task) && found[0].contains(&open));
    assert_eq!(cycles(&top_level(&edges)).len(), 1, "engine <-> read");
}
